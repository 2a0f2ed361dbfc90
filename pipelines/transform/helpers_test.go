package transform

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func settings() component.Settings {
	return component.Settings{Name: "logs/0-test", Logger: slog.New(slog.DiscardHandler), Metrics: metrics.NewSet()}
}

// counter returns the value of a series of set.
func counter(set component.Settings, name string) uint64 {
	return set.Metrics.GetOrCreateCounter(name).Get()
}

// logEvent returns a log event with the fields of a JSON object and the
// meta given as key=value pairs.
func logEvent(t testing.TB, fields string, meta ...string) *event.Event {
	t.Helper()
	e := &event.Event{Kind: event.KindLog, Time: t0}
	if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
		t.Fatalf("fields %s: %v", fields, err)
	}
	for _, kv := range meta {
		k, v, _ := strings.Cut(kv, "=")
		if e.Meta == nil {
			e.Meta = map[string]string{}
		}
		e.Meta[k] = v
	}
	return e
}

func metricEvent(meta ...string) *event.Event {
	e := &event.Event{Kind: event.KindMetric, Time: t0, Series: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "up"}},
		Samples: []prompb.Sample{{Timestamp: t0.UnixMilli(), Value: 1}},
	}}}
	for _, kv := range meta {
		k, v, _ := strings.Cut(kv, "=")
		if e.Meta == nil {
			e.Meta = map[string]string{}
		}
		e.Meta[k] = v
	}
	return e
}

// encode returns the events as JSON lines, with their routes.
func encode(events []*event.Event) string {
	var b strings.Builder
	for _, e := range events {
		b.Write(event.AppendJSON(nil, e))
		if e.Routes != nil {
			fmt.Fprintf(&b, " -> %v", e.Routes)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

const ts = `"timestamp":"2026-01-02T03:04:05Z"`

// errText returns err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// withMetric returns e followed by a metric event, which set, rename,
// remove and redact must pass as it is (encoded: metricJSON).
func withMetric(e *event.Event) []*event.Event {
	return []*event.Event{e, metricEvent("host=m")}
}

const metricJSON = `{"timestamp":"2026-01-02T03:04:05Z","series":[{"labels":{"__name__":"up"},"samples":[[1767323045000,1]]}],"meta":{"host":"m"}}` + "\n"
