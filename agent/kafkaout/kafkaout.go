package kafkaout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/broker/protocol"
)

// Config configures a Writer.
type Config struct {
	// Brokers are Kafka bootstrap addresses. Required.
	Brokers []string
	// Topic, if set, replaces the topic of every message.
	Topic string
	// BatchTimeout bounds how long a message waits for its batch. Default 5ms.
	BatchTimeout time.Duration
	Logger       *slog.Logger
	Metrics      *metrics.Set
}

// Validate reports a field that cannot work.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka output: brokers are required")
	}
	return nil
}

// ErrClosed fails the messages of a closed Writer: they were not
// delivered.
var ErrClosed = fmt.Errorf("kafka output closed: %w", client.ErrClosed)

// Writer sends messages to Kafka.
type Writer struct {
	cfg Config
	w   *kafka.Writer
	tr  *kafka.Transport
	lg  *slog.Logger

	written, retries *metrics.Counter

	mu       sync.Mutex
	closed   bool
	pending  sync.WaitGroup // messages not yet answered
	inflight atomic.Int64   // the same count, for Flush
	retryWG  sync.WaitGroup // retry goroutines
	stop     chan struct{}
}

// pendingMsg rides along in kafka.Message.WriterData.
type pendingMsg struct {
	cb      func(client.Result, error)
	attempt int
}

// New returns a Writer; Close it to stop its goroutines.
func New(cfg Config) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = 5 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSet()
	}
	w := &Writer{cfg: cfg, lg: cfg.Logger, stop: make(chan struct{}),
		written: cfg.Metrics.GetOrCreateCounter(`sluice_agent_kafka_messages_total`),
		retries: cfg.Metrics.GetOrCreateCounter(`sluice_agent_kafka_retries_total`)}
	// An own transport, not kafka-go's shared default, so that Close can
	// end its connections' goroutines.
	w.tr = &kafka.Transport{}
	w.w = &kafka.Writer{
		Transport:    w.tr,
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  compress.Lz4,
		BatchTimeout: cfg.BatchTimeout,
		Async:        true,
		Completion:   w.completion,
	}
	return w, nil
}

// SendAsync writes msg; cb gets nil once Kafka acknowledged it with
// acks=all, or ErrClosed if the Writer closed first.
func (w *Writer) SendAsync(msg client.Message, cb func(client.Result, error)) {
	topic := msg.Topic
	if w.cfg.Topic != "" {
		topic = w.cfg.Topic
	}
	km := kafka.Message{Topic: topic, Value: append([]byte(nil), msg.Body...), WriterData: &pendingMsg{cb: cb}}
	if msg.Key != "" {
		km.Key = []byte(msg.Key)
	}
	if !msg.BornAt.IsZero() {
		km.Time = msg.BornAt
	}
	for k, v := range protocol.MergeProps(msg.Shared, msg.Properties, msg.Extra) {
		km.Headers = append(km.Headers, kafka.Header{Key: k, Value: []byte(v)})
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		cb(client.Result{Topic: topic}, ErrClosed)
		return
	}
	w.pending.Add(1)
	w.inflight.Add(1)
	w.mu.Unlock()
	w.write(km)
}

func (w *Writer) write(km kafka.Message) {
	// Async: WriteMessages only queues the message; errors come to
	// completion.
	if err := w.w.WriteMessages(context.Background(), km); err != nil {
		w.retry([]kafka.Message{km}, err)
	}
}

// completion answers written messages and retries failed ones.
func (w *Writer) completion(msgs []kafka.Message, err error) {
	if err != nil {
		w.retry(msgs, err)
		return
	}
	for _, km := range msgs {
		w.written.Inc()
		km.WriterData.(*pendingMsg).cb(client.Result{Topic: km.Topic, Queue: uint32(km.Partition), Offset: km.Offset}, nil)
		w.answered()
	}
}

// retry writes msgs (one partition's batch) again after a back-off, in
// one goroutine per failed batch, unless the Writer is closing.
func (w *Writer) retry(msgs []kafka.Message, err error) {
	p := msgs[0].WriterData.(*pendingMsg)
	for _, km := range msgs {
		km.WriterData.(*pendingMsg).attempt++
	}
	w.retries.Add(len(msgs))
	if p.attempt == 1 || p.attempt%20 == 0 {
		w.lg.Warn("kafka write failed; retrying", "topic", msgs[0].Topic, "messages", len(msgs), "attempt", p.attempt, "err", err)
	}
	d := min(50*time.Millisecond<<min(p.attempt, 7), 5*time.Second)
	d = d/2 + rand.N(d/2+1)
	msgs = append([]kafka.Message(nil), msgs...) // kafka-go reuses its slice
	w.retryWG.Add(1)
	go func() {
		defer w.retryWG.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			w.mu.Lock()
			closed := w.closed
			w.mu.Unlock()
			if !closed {
				if err := w.w.WriteMessages(context.Background(), msgs...); err != nil {
					w.retry(msgs, err)
				}
				return
			}
		case <-w.stop:
		}
		for _, km := range msgs {
			km.WriterData.(*pendingMsg).cb(client.Result{Topic: km.Topic}, ErrClosed)
			w.answered()
		}
	}()
}

func (w *Writer) answered() {
	w.inflight.Add(-1)
	w.pending.Done()
}

// Flush waits until every message sent so far is answered, or ctx ends.
// It polls rather than parking a goroutine on the WaitGroup, which would
// outlive a Flush whose ctx ended.
func (w *Writer) Flush(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if w.inflight.Load() == 0 {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("flush kafka output: %d messages unanswered: %w", w.inflight.Load(), ctx.Err())
		}
	}
}

// Close stops retrying, closes the kafka-go writer (which answers what it
// holds) and waits until every message is answered.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.stop)
	w.mu.Unlock()
	err := w.w.Close()
	w.retryWG.Wait()
	w.pending.Wait()
	w.tr.CloseIdleConnections()
	return err
}
