package kafka

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/pipelines/template"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// batchSize bounds the messages of one produce request to a partition
// (batch_bytes bounds its bytes). kafka-go preallocates this many
// messages per request, so it is not unbounded.
const batchSize = 1000

// batchTimeout is how long kafka-go waits for the last, partial request
// of a partition to fill up. Write hands over a whole batch at once, so
// there is nothing to wait for.
const batchTimeout = time.Millisecond

// Sink writes events to Kafka. Write is not safe for concurrent use (the
// collector never calls it concurrently).
type Sink struct {
	name       string
	lg         *slog.Logger
	w          *kafka.Writer
	tr         *kafka.Transport
	brokers    []string
	batchBytes int64
	backoff    component.Backoff
	maxElapsed time.Duration

	enc encoder

	messages, bytes, retries, failures, dropped *metrics.Counter
}

var _ component.Sink = (*Sink)(nil)

// New returns a Sink for cfg; it checks cfg and reads the TLS files, but
// does not connect: the first Write does.
func New(cfg Config, set component.Settings) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka sink %s: %w", set.Name, err)
	}
	cfg = cfg.withDefaults()
	topic, _ := template.Parse(cfg.Topic) // Validate parsed both
	key, _ := template.Parse(cfg.Key)
	tr := &kafka.Transport{ClientID: "sluice-collector"}
	if cfg.TLS != nil {
		tc, err := cfg.TLS.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kafka sink %s: %w", set.Name, err)
		}
		tr.TLS = tc
	}
	lbl := fmt.Sprintf("sink=%q", component.Label(set.Name))
	s := &Sink{
		name:       set.Name,
		lg:         set.Logger,
		tr:         tr,
		brokers:    cfg.Brokers,
		batchBytes: int64(cfg.BatchBytes),
		backoff:    component.Backoff{Initial: cfg.Retry.InitialBackoff.D(), Max: cfg.Retry.MaxBackoff.D()},
		maxElapsed: cfg.Retry.MaxElapsed.D(),
		enc:        encoder{topic: topic, key: key, json: cfg.Encoding == "json", headers: *cfg.HeadersFromMeta},
		messages:   set.Metrics.GetOrCreateCounter(`sluice_collector_sink_kafka_messages_total{` + lbl + `}`),
		bytes:      set.Metrics.GetOrCreateCounter(`sluice_collector_sink_kafka_bytes_total{` + lbl + `}`),
		retries:    set.Metrics.GetOrCreateCounter(`sluice_collector_sink_retries_total{` + lbl + `}`),
		failures:   set.Metrics.GetOrCreateCounter(`sluice_collector_sink_kafka_errors_total{` + lbl + `}`),
		dropped:    set.Metrics.GetOrCreateCounter(`sluice_collector_sink_kafka_dropped_total{` + lbl + `,reason="empty_topic"}`),
	}
	debug := kafka.LoggerFunc(func(msg string, args ...any) {
		if s.lg.Enabled(context.Background(), slog.LevelDebug) {
			s.lg.Debug("kafka-go: "+fmt.Sprintf(msg, args...), "sink", s.name)
		}
	})
	s.w = &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Transport:              tr,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		Compression:            compressions[cfg.Compression],
		BatchBytes:             s.batchBytes,
		BatchSize:              batchSize,
		BatchTimeout:           batchTimeout,
		MaxAttempts:            1, // the sink retries, with its own settings
		AllowAutoTopicCreation: cfg.CreateTopics,
		Logger:                 debug,
		ErrorLogger:            debug, // Write logs and returns what matters
	}
	return s, nil
}

// Write sends every event to Kafka and returns nil once Kafka has
// acknowledged all of them (acks=all), or dropped the ones no topic could
// be made for (counted).
func (s *Sink) Write(ctx context.Context, events []*event.Event) error {
	msgs, dropped := s.enc.encode(events)
	if dropped > 0 {
		s.dropped.Add(dropped)
		s.lg.Warn("kafka sink dropped events whose topic template expanded to nothing",
			"sink", s.name, "events", dropped)
	}
	if len(msgs) == 0 {
		return nil
	}
	return s.send(ctx, msgs)
}

// send writes msgs, retrying the ones that failed for a temporary reason
// until the retry budget is spent.
func (s *Sink) send(ctx context.Context, msgs []kafka.Message) error {
	start := time.Now()
	pending := msgs
	for attempt := 0; ; attempt++ {
		err := s.w.WriteMessages(ctx, pending...)
		if err == nil {
			s.written(pending)
			return nil
		}
		if ctx.Err() != nil {
			// kafka-go may still be sending slices of the buffers.
			s.enc.release()
			return ctx.Err()
		}
		s.failures.Inc()
		var permanent bool
		pending, err, permanent = s.keepFailed(pending, err)
		if permanent {
			return fmt.Errorf("kafka sink %s: write %d messages to %v: %w (not retried: Kafka refuses them)",
				s.name, len(pending), s.brokers, err)
		}
		d := s.backoff.Delay(attempt)
		if elapsed := time.Since(start); elapsed+d > s.maxElapsed {
			return fmt.Errorf("kafka sink %s: write %d messages to %v: gave up after %d attempts in %s: %w",
				s.name, len(pending), s.brokers, attempt+1, elapsed.Round(time.Millisecond), err)
		}
		if attempt == 0 || attempt%10 == 9 {
			s.lg.Warn("kafka write failed; retrying", "sink", s.name, "messages", len(pending),
				"attempt", attempt+1, "backoff", d, "err", err)
		}
		s.retries.Inc()
		if !component.Sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// keepFailed returns the messages of pending that were not written
// (counting the others as written), the error to report and whether it is
// permanent. Only a kafka.WriteErrors tells messages apart; any other
// error failed them all.
func (s *Sink) keepFailed(pending []kafka.Message, err error) ([]kafka.Message, error, bool) {
	var tooLarge kafka.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return pending, fmt.Errorf("a message of %d bytes (topic %s) is larger than batch_bytes %d",
			len(tooLarge.Message.Value), tooLarge.Message.Topic, s.batchBytes), true
	}
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) || len(werrs) != len(pending) {
		return pending, err, permanentError(err)
	}
	failed := pending[:0]
	var first error
	permanent := false
	for i := range pending {
		if werrs[i] == nil {
			s.written(pending[i : i+1])
			continue
		}
		if first == nil {
			first = werrs[i]
		}
		permanent = permanent || permanentError(werrs[i])
		failed = append(failed, pending[i])
	}
	if first == nil { // cannot happen: kafka-go returns WriteErrors only with failures
		first = err
	}
	return failed, first, permanent
}

// permanentError reports whether Kafka refused a write in a way that
// retrying cannot change. Network errors and the codes Kafka marks
// retriable (kafka.Error.Temporary) are worth retrying.
func permanentError(err error) bool {
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		return !kerr.Temporary()
	}
	return false
}

func (s *Sink) written(msgs []kafka.Message) {
	n := 0
	for i := range msgs {
		n += len(msgs[i].Key) + len(msgs[i].Value)
	}
	s.messages.Add(len(msgs))
	s.bytes.Add(n)
}

// Close closes the Kafka writer and its connections.
func (s *Sink) Close(context.Context) error {
	err := s.w.Close()
	s.tr.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("close kafka sink %s: %w", s.name, err)
	}
	return nil
}
