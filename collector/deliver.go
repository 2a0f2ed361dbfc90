package collector

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// On-failure policies of a sink.
const (
	onFailureRetry = "retry"
	onFailureDLQ   = "dlq"
	onFailureDrop  = "drop"
)

// batchBackoff spaces the collector's retries of a whole batch after the
// sink's own retries gave up.
var batchBackoff = component.Backoff{Initial: time.Second, Max: 30 * time.Second}

// dlqSender sends events to a dead-letter topic.
type dlqSender interface {
	Send(ctx context.Context, msgs ...client.Message) ([]client.Result, error)
}

// sinkRunner serialises a sink's Writes (pipelines may share a sink) and
// applies its on_failure policy.
type sinkRunner struct {
	name      string
	typ       string
	sink      component.Sink
	onFailure string
	dlqTopic  string
	lg        *slog.Logger

	mu sync.Mutex // held across Write: sinks are not called concurrently

	accepted *metrics.Counter
	failed   *metrics.Counter
	dropped  *metrics.Counter
	dlqd     *metrics.Counter
	duration *metrics.Histogram
}

func newSinkRunner(name, typ string, sink component.Sink, onFailure, dlqTopic string, lg *slog.Logger, set *metrics.Set) *sinkRunner {
	l := fmt.Sprintf(`sink=%q`, name)
	return &sinkRunner{
		name: name, typ: typ, sink: sink, onFailure: onFailure, dlqTopic: dlqTopic, lg: lg,
		accepted: set.GetOrCreateCounter(`sluice_collector_sink_events_total{` + l + `}`),
		failed:   set.GetOrCreateCounter(`sluice_collector_sink_write_failures_total{` + l + `}`),
		dropped:  set.GetOrCreateCounter(`sluice_collector_sink_events_dropped_total{` + l + `,reason="on_failure"}`),
		dlqd:     set.GetOrCreateCounter(`sluice_collector_sink_events_dlq_total{` + l + `}`),
		duration: set.GetOrCreateHistogram(`sluice_collector_sink_write_duration_seconds{` + l + `}`),
	}
}

// deliver writes events until the sink accepts them or its on_failure
// policy disposed of them; it returns an error only when ctx ended, and
// then the batch must not be committed.
func (s *sinkRunner) deliver(ctx context.Context, pipeline string, events []*event.Event, dlq dlqSender) error {
	for attempt := 0; ; attempt++ {
		err := s.write(ctx, events)
		if err == nil {
			s.accepted.Add(len(events))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.failed.Inc()
		switch s.onFailure {
		case onFailureDrop:
			s.dropped.Add(len(events))
			s.lg.Error("sink failed; dropping the batch as on_failure: drop says", "sink", s.name, "pipeline", pipeline,
				"events", len(events), "err", err)
			return nil
		case onFailureDLQ:
			derr := sendDLQ(ctx, dlq, s.dlqTopic, pipeline, s.name, events, err)
			if derr == nil {
				s.dlqd.Add(len(events))
				s.lg.Warn("sink failed; batch sent to the dead-letter topic", "sink", s.name, "pipeline", pipeline,
					"events", len(events), "topic", s.dlqTopic, "err", err)
				return nil
			}
			s.lg.Error("sink failed and the dead-letter topic too; retrying", "sink", s.name, "pipeline", pipeline,
				"err", err, "dlq_err", derr)
		default:
			s.lg.Warn("sink failed; the batch waits in the broker and is retried", "sink", s.name, "pipeline", pipeline,
				"events", len(events), "attempt", attempt+1, "err", err)
		}
		if !component.Sleep(ctx, batchBackoff.Delay(attempt)) {
			return ctx.Err()
		}
	}
}

func (s *sinkRunner) write(ctx context.Context, events []*event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	err := s.sink.Write(ctx, events)
	s.duration.UpdateDuration(start)
	return err
}

// sendDLQ produces events to topic as their JSON encoding, with the
// event's meta as properties and where and why it failed.
func sendDLQ(ctx context.Context, dlq dlqSender, topic, pipeline, sink string, events []*event.Event, cause error) error {
	if dlq == nil {
		return fmt.Errorf("no dead-letter producer (input is not the broker)")
	}
	msgs := make([]client.Message, len(events))
	reason := cause.Error()
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	for i, e := range events {
		props := make(map[string]string, len(e.Meta)+3)
		for k, v := range e.Meta {
			props[k] = v
		}
		props["dlq_pipeline"], props["dlq_sink"], props["dlq_error"] = pipeline, sink, reason
		msgs[i] = client.Message{Topic: topic, Key: e.Meta[event.MetaKey], Body: event.AppendJSON(nil, e), Properties: props, BornAt: e.Time}
	}
	_, err := dlq.Send(ctx, msgs...)
	if err != nil {
		return fmt.Errorf("send %d events to dead-letter topic %s: %w", len(events), topic, err)
	}
	return nil
}
