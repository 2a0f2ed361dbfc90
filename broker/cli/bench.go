package cli

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/broker/client"
)

// benchOpts are the flags of `sluice bench broker`.
type benchOpts struct {
	broker      string
	producers   int
	consumers   int
	msgSize     int
	batch       int
	queues      int
	flush       string
	duration    time.Duration
	rate        int
	json        bool
	noProgress  bool
	keepDataDir bool
	payload     string
}

// BenchResult is what `sluice bench broker --json` prints.
type BenchResult struct {
	Broker       string  `json:"broker"`
	Flush        string  `json:"flush"`
	Producers    int     `json:"producers"`
	Consumers    int     `json:"consumers"`
	MessageSize  int     `json:"message_size"`
	BatchSize    int     `json:"batch_size"`
	Seconds      float64 `json:"seconds"`
	Acked        uint64  `json:"messages_acked"`
	Failed       uint64  `json:"messages_failed"`
	Consumed     uint64  `json:"messages_consumed"`
	MsgsPerSec   float64 `json:"messages_per_second"`
	MBPerSec     float64 `json:"mb_per_second"`
	AckP50Ms     float64 `json:"ack_latency_p50_ms"`
	AckP99Ms     float64 `json:"ack_latency_p99_ms"`
	AckP999Ms    float64 `json:"ack_latency_p999_ms"`
	E2EP50Ms     float64 `json:"e2e_latency_p50_ms"`
	E2EP99Ms     float64 `json:"e2e_latency_p99_ms"`
	ConsumedRate float64 `json:"consumed_per_second"`
}

// BenchCommand is `sluice bench`, holding `sluice bench broker`; the
// agent's benchmarks join it with the agent.
func BenchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure sluice on this machine"}
	cmd.AddCommand(benchBrokerCommand(), benchAgentCommand())
	return cmd
}

func benchBrokerCommand() *cobra.Command {
	o := &benchOpts{}
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Produce to and consume from a broker at full speed; report throughput and latency",
		Long: `Produce messages from --producers producers as fast as the broker
acknowledges them, for --duration, while --consumers consumers of one group
read them back. Reports acknowledged messages/s and MB/s, produce-ack
latency (p50, p99, p99.9) and end-to-end latency from send to receipt
(p50, p99). Without --broker, a broker is started as a child process on a
temporary directory with --flush.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			res, err := runBench(cmd.Context(), o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if o.json {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			printBench(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.broker, "broker", "", "address of a running broker (default: start one)")
	f.IntVar(&o.producers, "producers", 4, "concurrent producers")
	f.IntVar(&o.consumers, "consumers", 1, "consumers in the group (0: produce only)")
	f.IntVar(&o.msgSize, "message-size", 200, "message body size in bytes")
	f.IntVar(&o.batch, "batch-size", 1000, "messages per produced batch")
	f.IntVar(&o.queues, "queues", 8, "queues of the benchmark topic")
	f.StringVar(&o.flush, "flush", "sync", "flush mode of the started broker: sync or async")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to produce")
	f.IntVar(&o.rate, "rate", 0, "messages per second over all producers (0: as fast as acknowledged); latency at a set rate is the broker's, not queueing")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	f.BoolVar(&o.noProgress, "no-progress", false, "no progress bar on stderr")
	f.BoolVar(&o.keepDataDir, "keep-data", false, "keep the started broker's data directory")
	f.StringVar(&o.payload, "payload", "log", "message bodies: log (log lines, compress like real logs) or random (incompressible)")
	return cmd
}

func (o *benchOpts) validate() error {
	switch {
	case o.producers < 1:
		return fmt.Errorf("--producers %d: want at least 1", o.producers)
	case o.consumers < 0:
		return fmt.Errorf("--consumers %d is negative", o.consumers)
	case o.msgSize < 8:
		return fmt.Errorf("--message-size %d: want at least 8 (the send time is in the body)", o.msgSize)
	case o.batch < 1:
		return fmt.Errorf("--batch-size %d: want at least 1", o.batch)
	case o.queues < 1 || o.queues > 1024:
		return fmt.Errorf("--queues %d: want 1 to 1024", o.queues)
	case o.flush != "sync" && o.flush != "async":
		return fmt.Errorf("--flush %q: want sync or async", o.flush)
	case o.payload != "log" && o.payload != "random":
		return fmt.Errorf("--payload %q: want log or random", o.payload)
	case o.rate < 0:
		return fmt.Errorf("--rate %d is negative", o.rate)
	case o.duration <= 0:
		return fmt.Errorf("--duration %v: want more than 0", o.duration)
	}
	return nil
}

// benchRun is the shared state of one benchmark run.
type benchRun struct {
	o                       *benchOpts
	topic                   string
	acked, failed, consumed atomic.Uint64
	ackLat, e2eLat          histogram
	firstErr                atomic.Pointer[error]
}

func (r *benchRun) fail(err error) {
	r.failed.Add(1)
	r.firstErr.CompareAndSwap(nil, &err)
}

func runBench(ctx context.Context, o *benchOpts, progress io.Writer) (*BenchResult, error) {
	addr := o.broker
	if addr == "" {
		child, err := startChildBroker(ctx, o.flush, o.keepDataDir)
		if err != nil {
			return nil, err
		}
		defer child.stop()
		addr = child.addr
	}
	c, err := client.New(client.Config{Addr: addr, ClientName: "sluice-bench"})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := &benchRun{o: o, topic: fmt.Sprintf("bench-%d", time.Now().UnixNano())}
	if err := c.CreateTopic(ctx, r.topic, o.queues); err != nil {
		return nil, fmt.Errorf("create benchmark topic: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.DeleteTopic(dctx, r.topic)
	}()

	cctx, stopConsumers := context.WithCancel(ctx)
	var cwg sync.WaitGroup
	for range o.consumers {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			r.consume(cctx, c)
		}()
	}
	start := time.Now()
	elapsed, err := r.produceFor(ctx, c, progress)
	if err != nil {
		stopConsumers()
		cwg.Wait()
		return nil, err
	}
	// Let the consumers catch up with what was acknowledged, within reason.
	for deadline := time.Now().Add(10 * time.Second); o.consumers > 0 && r.consumed.Load() < r.acked.Load() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	consumedIn := time.Since(start)
	stopConsumers()
	cwg.Wait()
	return r.result(addr, elapsed, consumedIn), nil
}

// produceFor runs the producers for the benchmark's duration, showing
// progress, and returns the time until the last acknowledgement.
func (r *benchRun) produceFor(ctx context.Context, c *client.Client, progress io.Writer) (time.Duration, error) {
	o := r.o
	pctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	bar := newBenchBar(o, progress)
	defer bar.Finish()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, o.producers)
	for i := range o.producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.produce(pctx, c, uint64(i)); err != nil {
				errs <- err
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			close(errs)
			if err := <-errs; err != nil {
				return 0, err
			}
			if r.acked.Load() == 0 {
				if p := r.firstErr.Load(); p != nil {
					return 0, fmt.Errorf("no message acknowledged: %w", *p)
				}
			}
			return time.Since(start), nil
		case <-tick.C:
			bar.Describe(fmt.Sprintf("%d msgs acked", r.acked.Load()))
			bar.Set64(int64(time.Since(start) / time.Millisecond))
		}
	}
}

func newBenchBar(o *benchOpts, w io.Writer) *progressbar.ProgressBar {
	if o.noProgress {
		w = io.Discard
	}
	return progressbar.NewOptions64(int64(o.duration/time.Millisecond),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("producing"),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
	)
}

// produce sends messages until ctx ends, then waits for their acks.
func (r *benchRun) produce(ctx context.Context, c *client.Client, id uint64) error {
	o := r.o
	// A buffer of two batches per queue keeps every queue busy without
	// queueing seconds of messages in the client, which would show up as
	// ack latency that is the benchmark's own.
	batchBytes := o.batch * (o.msgSize + 16)
	p, err := c.NewProducer(client.ProducerConfig{BatchBytes: batchBytes, MaxBufferedBytes: 2 * o.queues * batchBytes})
	if err != nil {
		return err
	}
	defer p.Close()
	bodies := benchBodies(o.payload, o.msgSize, id)
	pace := newPacer(o.rate, o.producers)
	for i := 0; ctx.Err() == nil; i++ {
		if !pace.wait(ctx, i) {
			break
		}
		body := bodies[i%len(bodies)]
		sent := time.Now()
		binary.LittleEndian.PutUint64(body, uint64(sent.UnixNano()))
		p.SendAsync(client.Message{Topic: r.topic, Body: body}, func(_ client.Result, err error) {
			if err != nil {
				r.fail(err)
				return
			}
			r.ackLat.add(time.Since(sent))
			r.acked.Add(1)
		})
	}
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Flush(fctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("flush producer: %w", err)
	}
	return nil
}

// consume reads the benchmark topic as a member of its group until ctx ends.
func (r *benchRun) consume(ctx context.Context, c *client.Client) {
	cons, err := c.NewConsumer(client.ConsumerConfig{Group: r.topic + "-group", Topic: r.topic})
	if err != nil {
		r.fail(err)
		return
	}
	defer cons.Close()
	for ctx.Err() == nil {
		msgs, err := cons.Poll(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.fail(err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		now := time.Now().UnixNano()
		for i := range msgs {
			if len(msgs[i].Body) >= 8 {
				r.e2eLat.add(time.Duration(now - int64(binary.LittleEndian.Uint64(msgs[i].Body))))
			}
		}
		r.consumed.Add(uint64(len(msgs)))
		if err := cons.Commit(ctx, msgs); err != nil && ctx.Err() == nil && !errors.Is(err, client.ErrFenced) {
			r.fail(err)
		}
	}
}

// pacer spaces one producer's sends to its share of --rate, in steps of
// 100 messages so that sleeping costs little.
type pacer struct {
	start time.Time
	every time.Duration // per 100 messages; 0: no pacing
}

func newPacer(rate, producers int) pacer {
	if rate <= 0 {
		return pacer{}
	}
	per := max(float64(rate)/float64(producers), 1)
	return pacer{start: time.Now(), every: time.Duration(100 / per * float64(time.Second))}
}

// wait blocks until message i is due; false if ctx ended.
func (p pacer) wait(ctx context.Context, i int) bool {
	if p.every == 0 || i%100 != 0 {
		return true
	}
	d := time.Until(p.start.Add(time.Duration(i/100) * p.every))
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// benchBodies returns a pool of message bodies of size bytes: log lines
// that vary like real ones (times, hosts, paths, statuses, ids), so that
// batches compress as logs do, or random bytes, which do not compress.
// The first 8 bytes of each are overwritten with the send time.
func benchBodies(kind string, size int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	paths := []string{"/api/v1/items", "/api/v1/users", "/healthz", "/api/v2/orders", "/static/app.js"}
	out := make([][]byte, 4096)
	for i := range out {
		b := make([]byte, 0, size)
		if kind == "random" {
			for range size {
				b = append(b, byte(rng.Uint32()))
			}
		} else {
			b = fmt.Appendf(b, "........ 2026-11-28T04:%02d:%02d.%03dZ host-%02d app[%d]: %s %s/%d status=%d bytes=%d dur_ms=%d trace=%016x",
				rng.IntN(60), rng.IntN(60), rng.IntN(1000), rng.IntN(20), 1000+rng.IntN(50),
				[]string{"GET", "POST"}[rng.IntN(2)], paths[rng.IntN(len(paths))], rng.IntN(100000),
				[]int{200, 200, 200, 404, 500}[rng.IntN(5)], rng.IntN(50000), rng.IntN(900), rng.Uint64())
			for len(b) < size {
				b = append(b, " pad"...)
			}
		}
		out[i] = b[:size]
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *benchRun) result(addr string, produced, consumedIn time.Duration) *BenchResult {
	o := r.o
	acked := r.acked.Load()
	secs := produced.Seconds()
	res := &BenchResult{
		Broker: addr, Flush: o.flush, Producers: o.producers, Consumers: o.consumers,
		MessageSize: o.msgSize, BatchSize: o.batch, Seconds: secs,
		Acked: acked, Failed: r.failed.Load(), Consumed: r.consumed.Load(),
		MsgsPerSec: float64(acked) / secs, MBPerSec: float64(acked) * float64(o.msgSize) / secs / 1e6,
		AckP50Ms: ms(r.ackLat.quantile(0.5)), AckP99Ms: ms(r.ackLat.quantile(0.99)), AckP999Ms: ms(r.ackLat.quantile(0.999)),
		E2EP50Ms: ms(r.e2eLat.quantile(0.5)), E2EP99Ms: ms(r.e2eLat.quantile(0.99)),
	}
	if o.consumers > 0 {
		res.ConsumedRate = float64(res.Consumed) / consumedIn.Seconds()
	}
	if o.broker != "" {
		res.Flush = "(broker's)"
	}
	return res
}

func printBench(w io.Writer, r *BenchResult) {
	fmt.Fprintf(w, "broker %s, flush %s: %d producers, %d consumers, %d-byte messages, batches of %d\n",
		r.Broker, r.Flush, r.Producers, r.Consumers, r.MessageSize, r.BatchSize)
	fmt.Fprintf(w, "produced   %d messages acknowledged in %.1fs (%d failed)\n", r.Acked, r.Seconds, r.Failed)
	fmt.Fprintf(w, "throughput %.0f msgs/s, %.1f MB/s\n", r.MsgsPerSec, r.MBPerSec)
	fmt.Fprintf(w, "ack        p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms\n", r.AckP50Ms, r.AckP99Ms, r.AckP999Ms)
	if r.Consumers > 0 {
		fmt.Fprintf(w, "consumed   %d messages, %.0f msgs/s\n", r.Consumed, r.ConsumedRate)
		fmt.Fprintf(w, "end to end p50 %.2f ms, p99 %.2f ms\n", r.E2EP50Ms, r.E2EP99Ms)
	}
}

// childBroker is a `sluice broker` process started for a benchmark.
type childBroker struct {
	addr string
	dir  string
	keep bool
	proc *os.Process
	done chan struct{}
}
