package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicehq/sluice/broker/client"
)

// The workload both sides get.
const (
	benchMsgSize    = 200             // bytes of body
	benchPublishers = 4               // goroutines publishing, on one connection
	benchRound      = 3 * time.Second // publishing time of one round
	benchQueues     = 8               // queues of the sluice topic (the default)
	benchBodies     = 4096            // distinct random bodies, cycled
)

// BenchmarkBrokerVsJetStream measures acknowledged messages/s of `sluice
// broker` (a real process) and of NATS JetStream (embedded, file storage)
// under the same workload: benchPublishers goroutines publish
// benchMsgSize-byte random bodies asynchronously, as fast as acks come
// back, for benchRound per round; a round ends with the last ack. Each
// b.N iteration is one round of each side, sluice and JetStream in turn,
// in alternating order, so that machine noise hits both alike. Each call
// of a sub-benchmark starts both brokers afresh on new directories, warms
// them up, and checks at the end that each stores exactly the messages it
// acknowledged.
//
//   - durable: sluice `flush: sync` (ack after fsync, group commit) against
//     JetStream with sync_interval always (fsync per write).
//   - default: sluice `flush: async` (ack after write, fsync every 200ms)
//     against JetStream's default (fsync every 2 minutes).
//
// Each side publishes the way its client is meant to be used: sluice
// through one client.Producer per goroutine, with its defaults (batches of
// up to 1 MiB, 5ms linger, lz4: the bodies are random bytes, so lz4 gains
// nothing, the batches are stored as they are, but the producer pays for
// trying), JetStream through one
// jetstream.JetStream per goroutine with PublishAsync and its default
// bound of 4,000 pending acks. Reported: msgs/s (sluice), nats-msgs/s and
// x-nats (their ratio); ns/op is suppressed, a round's length being fixed.
//
// Run (about 80s on 2 cores; the default -benchtime runs one round each):
//
//	go test -run XXX -bench BrokerVsJetStream -benchtime 3x ./e2e/
func BenchmarkBrokerVsJetStream(b *testing.B) {
	for _, mode := range []struct {
		name       string
		flush      string // sluice flush mode
		natsAlways bool   // JetStream sync_interval always
	}{
		{name: "durable", flush: "sync", natsAlways: true},
		{name: "default", flush: "async", natsAlways: false},
	} {
		b.Run(mode.name, func(b *testing.B) {
			bodies := randomBodies(benchBodies, benchMsgSize)
			sides := []benchSide{
				newSluiceSide(b, mode.flush, bodies),
				newNATSSide(b, mode.natsAlways, bodies),
			}
			var totals [2]roundResult
			var acked [2]int64 // with the warm-up's
			for k, s := range sides {
				r, err := s.round(200 * time.Millisecond)
				if err != nil {
					b.Fatalf("warm-up: %v", err)
				}
				acked[k] += r.acked
			}
			b.ResetTimer()
			for i := range b.N {
				var rates [2]float64
				for j := range sides {
					k := (i + j) % 2 // sluice first on even rounds
					r, err := sides[k].round(benchRound)
					if err != nil {
						b.Fatal(err)
					}
					totals[k].acked += r.acked
					acked[k] += r.acked
					totals[k].elapsed += r.elapsed
					rates[k] = r.rate()
				}
				b.Logf("round %d: sluice %.0f msgs/s, jetstream %.0f msgs/s", i+1, rates[0], rates[1])
			}
			b.StopTimer()
			for k, s := range sides {
				n, err := s.stored()
				if err != nil {
					b.Fatal(err)
				}
				if n != acked[k] {
					b.Fatalf("%s stores %d messages, %d were acknowledged", s, n, acked[k])
				}
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(totals[0].rate(), "msgs/s")
			b.ReportMetric(totals[1].rate(), "nats-msgs/s")
			b.ReportMetric(totals[0].rate()/totals[1].rate(), "x-nats")
		})
	}
}

// benchSide is a broker under test.
type benchSide interface {
	// round publishes for d from benchPublishers goroutines and waits for
	// every ack.
	round(d time.Duration) (roundResult, error)
	// stored counts the messages the broker holds.
	stored() (int64, error)
	String() string
}

type roundResult struct {
	acked   int64
	elapsed time.Duration // from the first send to the last ack
}

func (r roundResult) rate() float64 { return float64(r.acked) / r.elapsed.Seconds() }

func randomBodies(n, size int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = make([]byte, size)
		for j := range bodies[i] {
			bodies[i][j] = byte(rng.Uint32())
		}
	}
	return bodies
}

// runPublishers runs publish on benchPublishers goroutines, each with its
// index and a deadline, and times them until the last returns.
func runPublishers(d time.Duration, publish func(i int, deadline time.Time) error) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(d)
	errs := make([]error, benchPublishers)
	var wg sync.WaitGroup
	for i := range benchPublishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = publish(i, deadline)
		}()
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// sluiceSide is a `sluice broker` process with one producer per publisher.
type sluiceSide struct {
	c         *client.Client
	topic     string
	producers []*client.Producer
	bodies    [][]byte
}

func newSluiceSide(b *testing.B, flush string, bodies [][]byte) *sluiceSide {
	b.Helper()
	addr := freeAddr(b)
	startBroker(b, b.TempDir(), addr, `"off"`, fmt.Sprintf("  flush: %s\n", flush))
	c := newClient(b, addr)
	s := &sluiceSide{c: c, topic: "bench", bodies: bodies}
	if err := c.CreateTopic(context.Background(), s.topic, benchQueues); err != nil {
		b.Fatalf("create topic: %v", err)
	}
	for range benchPublishers {
		p, err := c.NewProducer(client.ProducerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		s.producers = append(s.producers, p)
	}
	return s
}

func (s *sluiceSide) String() string { return "sluice" }

func (s *sluiceSide) stored() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := s.c.DescribeTopic(ctx, s.topic)
	if err != nil {
		return 0, fmt.Errorf("sluice: describe topic: %w", err)
	}
	var n int64
	for _, q := range info.QueueInfo {
		n += q.Max - q.Min
	}
	return n, nil
}

func (s *sluiceSide) round(d time.Duration) (roundResult, error) {
	var acked, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	cb := func(_ client.Result, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, &err)
			return
		}
		acked.Add(1)
	}
	elapsed, err := runPublishers(d, func(i int, deadline time.Time) error {
		p := s.producers[i]
		n := 0
		for ; n%64 != 0 || time.Now().Before(deadline); n++ {
			p.SendAsync(client.Message{Topic: s.topic, Body: s.bodies[(i+n*benchPublishers)%len(s.bodies)]}, cb)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := p.Flush(ctx); err != nil {
			return fmt.Errorf("sluice: flush producer %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return roundResult{}, err
	}
	if p := firstErr.Load(); p != nil {
		return roundResult{}, fmt.Errorf("sluice: %d messages failed, the first: %w", failed.Load(), *p)
	}
	return roundResult{acked: acked.Load(), elapsed: elapsed}, nil
}

// natsSide is a NATS server with JetStream embedded in the test process,
// reached over TCP, with one JetStream context per publisher.
type natsSide struct {
	subject string
	stream  jetstream.Stream
	js      []jetstream.JetStream
	bodies  [][]byte
	acked   atomic.Int64
	failed  atomic.Int64
	lastErr atomic.Pointer[error]
}

func newNATSSide(b *testing.B, syncAlways bool, bodies [][]byte) *natsSide {
	b.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host:       "127.0.0.1",
		Port:       natsserver.RANDOM_PORT,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   b.TempDir(),
		SyncAlways: syncAlways, // what `sync_interval: always` sets
	})
	if err != nil {
		b.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	b.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats server not ready after 10s")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatalf("nats connect: %v", err)
	}
	b.Cleanup(nc.Close)

	s := &natsSide{subject: "bench", bodies: bodies}
	onAck := func(jetstream.JetStream, *nats.Msg, *jetstream.PubAck) { s.acked.Add(1) }
	onErr := func(_ jetstream.JetStream, _ *nats.Msg, err error) {
		s.failed.Add(1)
		s.lastErr.Store(&err)
	}
	for range benchPublishers {
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncAckHandler(onAck), jetstream.WithPublishAsyncErrHandler(onErr))
		if err != nil {
			b.Fatalf("jetstream: %v", err)
		}
		s.js = append(s.js, js)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.stream, err = s.js[0].CreateStream(ctx, jetstream.StreamConfig{
		Name: "BENCH", Subjects: []string{s.subject}, Storage: jetstream.FileStorage,
	}); err != nil {
		b.Fatalf("create stream: %v", err)
	}
	return s
}

func (s *natsSide) String() string { return "jetstream" }

func (s *natsSide) stored() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("jetstream: stream info: %w", err)
	}
	return int64(info.State.Msgs), nil
}

func (s *natsSide) round(d time.Duration) (roundResult, error) {
	s.acked.Store(0)
	s.failed.Store(0)
	s.lastErr.Store(nil)
	elapsed, err := runPublishers(d, func(i int, deadline time.Time) error {
		js := s.js[i]
		n := 0
		for ; n%64 != 0 || time.Now().Before(deadline); n++ {
			body := s.bodies[(i+n*benchPublishers)%len(s.bodies)]
			for {
				// Past 4,000 pending acks PublishAsync waits up to 200ms
				// for room, then says so: wait again, as sluice's
				// SendAsync does.
				_, err := js.PublishAsync(s.subject, body)
				if err == nil {
					break
				}
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
					return fmt.Errorf("jetstream: publish: %w", err)
				}
			}
		}
		select {
		case <-js.PublishAsyncComplete():
			return nil
		case <-time.After(2 * time.Minute):
			return fmt.Errorf("jetstream: %d acks still pending after 2 minutes", js.PublishAsyncPending())
		}
	})
	if err != nil {
		return roundResult{}, err
	}
	if p := s.lastErr.Load(); p != nil {
		return roundResult{}, fmt.Errorf("jetstream: %d messages failed, the last: %w", s.failed.Load(), *p)
	}
	return roundResult{acked: s.acked.Load(), elapsed: elapsed}, nil
}
