package kafkain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

// Poll's bounds, and the capacity of the fetch channel.
const (
	maxPollMessages = 1000
	maxPollBytes    = 4 << 20
)

// Config is what the reader consumes and as whom.
type Config struct {
	// Brokers are bootstrap addresses, host:port. Required.
	Brokers []string
	// Group is the consumer group. Required.
	Group string
	// Topic is the topic read. Required.
	Topic string
	// StartFrom is where a group with no committed offset starts:
	// earliest (default) or latest.
	StartFrom string
	// Logger gets kafka-go's errors (at warn) and its chatter (at
	// debug). Default slog.Default().
	Logger *slog.Logger
	// TLS, when set, connects over TLS.
	TLS *config.TLS
}

// ErrClosed is what Poll and Commit return once the Reader is closed.
var ErrClosed = fmt.Errorf("kafka input: %w", client.ErrClosed)

// Reader is a consumer-group member. Poll and Commit may be called from
// different goroutines, though a pipeline calls them in turn.
type Reader struct {
	r       *kafka.Reader
	topic   string
	fetched chan fetched
	life    context.Context // ends when Close starts
	cancel  context.CancelFunc
	done    chan struct{}

	mu          sync.Mutex
	held        *fetched      // taken from fetched, not yet returned (Poll was full)
	uncommitted map[int]int64 // partition → highest offset Poll returned since Commit
}

// fetched is one message, or an error, from the fetch goroutine.
type fetched struct {
	msg kafka.Message
	err error
}

// New checks cfg, reads the TLS files and starts the fetch goroutine,
// which joins the group in the background. Close the Reader.
func New(cfg Config) (*Reader, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	dialer := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, ClientID: "sluice-collector"}
	if cfg.TLS != nil {
		tc, err := cfg.TLS.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kafka input %s: %w", cfg.Topic, err)
		}
		dialer.TLS = tc
	}
	start := kafka.FirstOffset
	if cfg.StartFrom == "latest" {
		start = kafka.LastOffset
	}
	rd := &Reader{
		topic:       cfg.Topic,
		fetched:     make(chan fetched, maxPollMessages),
		done:        make(chan struct{}),
		uncommitted: map[int]int64{},
	}
	rd.r = kafka.NewReader(kafka.ReaderConfig{
		Brokers:     cfg.Brokers,
		GroupID:     cfg.Group,
		Topic:       cfg.Topic,
		StartOffset: start,
		Dialer:      dialer,
		MinBytes:    1,
		MaxBytes:    maxPollBytes,
		MaxWait:     500 * time.Millisecond,
		// CommitInterval 0: CommitMessages commits synchronously, and
		// nothing else commits.
		Logger: kafka.LoggerFunc(func(msg string, args ...any) {
			if lg.Enabled(context.Background(), slog.LevelDebug) {
				lg.Debug("kafka-go: "+fmt.Sprintf(msg, args...), "topic", cfg.Topic, "group", cfg.Group)
			}
		}),
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			lg.Warn("kafka-go: "+fmt.Sprintf(msg, args...), "topic", cfg.Topic, "group", cfg.Group)
		}),
	})
	rd.life, rd.cancel = context.WithCancel(context.Background())
	go rd.fetch(rd.life)
	return rd, nil
}

func validate(cfg Config) error {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one broker address (host:port) is required"))
	}
	for _, b := range cfg.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("brokers: %q is not a host:port address", b))
		}
	}
	if cfg.Group == "" {
		errs = append(errs, errors.New("group: a consumer group is required"))
	}
	if cfg.Topic == "" {
		errs = append(errs, errors.New("topic: a topic is required"))
	}
	if cfg.StartFrom != "" && cfg.StartFrom != "earliest" && cfg.StartFrom != "latest" {
		errs = append(errs, fmt.Errorf("start_from: %q is not earliest or latest (a Kafka input cannot start at a time)", cfg.StartFrom))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kafka input: %w", err)
	}
	return nil
}

// fetch moves messages from kafka-go into r.fetched until ctx ends or
// the kafka-go reader closes; it closes r.fetched when it returns.
func (r *Reader) fetch(ctx context.Context) {
	defer close(r.done)
	defer close(r.fetched)
	backoff := component.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second}
	failures := 0
	for {
		m, err := r.r.FetchMessage(ctx)
		if err != nil && (ctx.Err() != nil || errors.Is(err, io.EOF)) {
			return
		}
		item := fetched{msg: m, err: err}
		if err != nil {
			item.err = fmt.Errorf("fetch from kafka topic %s: %w", r.topic, err)
		}
		select {
		case r.fetched <- item:
		case <-ctx.Done():
			return
		}
		if err == nil {
			failures = 0
			continue
		}
		// kafka-go retries the group itself; this only keeps a reader
		// whose errors come at once from spinning.
		if !component.Sleep(ctx, backoff.Delay(failures)) {
			return
		}
		failures++
	}
}

// Poll blocks until at least one message was fetched (or ctx ends, or the
// Reader closes) and returns what is buffered, up to 1000 messages or
// about 4 MiB. A fetch error is returned by itself, by this Poll if it
// holds no message yet, else by the next.
func (r *Reader) Poll(ctx context.Context) ([]client.Message, error) {
	r.mu.Lock()
	first := r.held
	r.held = nil
	r.mu.Unlock()
	if first == nil {
		select {
		case f, ok := <-r.fetched:
			if !ok {
				return nil, ErrClosed
			}
			first = &f
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if first.err != nil {
		return nil, first.err
	}
	msgs := []client.Message{convert(first.msg)}
	size := messageSize(&first.msg)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.track(&first.msg)
	for len(msgs) < maxPollMessages {
		var f fetched
		var ok bool
		select {
		case f, ok = <-r.fetched:
		default:
		}
		if !ok {
			break
		}
		if f.err != nil || size+messageSize(&f.msg) > maxPollBytes {
			r.held = &f
			break
		}
		size += messageSize(&f.msg)
		msgs = append(msgs, convert(f.msg))
		r.track(&f.msg)
	}
	return msgs, nil
}

// track notes m as returned and not yet committed.
func (r *Reader) track(m *kafka.Message) {
	if off, ok := r.uncommitted[m.Partition]; !ok || m.Offset > off {
		r.uncommitted[m.Partition] = m.Offset
	}
}

func messageSize(m *kafka.Message) int {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

func convert(m kafka.Message) client.Message {
	cm := client.Message{Topic: m.Topic, Key: string(m.Key), Body: m.Value, BornAt: m.Time,
		Queue: uint32(m.Partition), Offset: m.Offset}
	if len(m.Headers) > 0 {
		cm.Properties = make(map[string]string, len(m.Headers))
		for _, h := range m.Headers {
			cm.Properties[h.Key] = string(h.Value)
		}
	}
	return cm
}

// Commit commits the offsets of everything Poll returned since the last
// Commit; call it only once the sinks accepted those messages. If it
// fails, the next Commit tries those offsets again.
func (r *Reader) Commit(ctx context.Context) error {
	r.mu.Lock()
	offs := r.uncommitted
	r.uncommitted = map[int]int64{}
	r.mu.Unlock()
	if len(offs) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, 0, len(offs))
	for p, off := range offs {
		msgs = append(msgs, kafka.Message{Topic: r.topic, Partition: p, Offset: off})
	}
	// kafka-go can take a commit request after its Close and then never
	// answer it: end the wait when the Reader closes.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(r.life, cancel)()
	err := r.r.CommitMessages(ctx, msgs...)
	if err == nil {
		return nil
	}
	r.mu.Lock()
	for p, off := range offs {
		if cur, ok := r.uncommitted[p]; !ok || off > cur {
			r.uncommitted[p] = off
		}
	}
	r.mu.Unlock()
	if r.life.Err() != nil || errors.Is(err, io.ErrClosedPipe) {
		return ErrClosed
	}
	return fmt.Errorf("commit kafka offsets of topic %s: %w", r.topic, err)
}

// Close stops fetching and closes the kafka-go reader, which leaves the
// group. Nothing is committed: what was polled and not committed is
// handed again to the group.
func (r *Reader) Close() error {
	r.cancel()
	err := r.r.Close()
	<-r.done
	if err != nil {
		return fmt.Errorf("close kafka input %s: %w", r.topic, err)
	}
	return nil
}
