package metricproc

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestL2M(t *testing.T, cfgYAML string) (*LogToMetric, *fakeClock, component.Settings) {
	t.Helper()
	var cfg LogToMetricConfig
	if err := yaml.Unmarshal([]byte(cfgYAML), &cfg); err != nil {
		t.Fatalf("decode config: %v", err)
	}
	clock := &fakeClock{t: t0}
	set := testSettings("logs/1-log_to_metric")
	p, err := newLogToMetric(cfg, set, clock.now)
	if err != nil {
		t.Fatalf("newLogToMetric: %v", err)
	}
	return p, clock, set
}

// logEvent returns a log event with fields from a JSON-like map.
func logEvent(fields map[string]any, meta map[string]string) *event.Event {
	return &event.Event{Kind: event.KindLog, Time: t0, Fields: event.FieldsOf(fields), Meta: meta}
}

// metricLines renders a metric event's series as `{labels} value @ms`.
func metricLines(e *event.Event) []string {
	var out []string
	for _, s := range e.Series {
		for _, smp := range s.Samples {
			out = append(out, fmt.Sprintf("%s %g @%d", labelsText(s), smp.Value, smp.Timestamp))
		}
	}
	return out
}

// emitted returns the metric event Process appended after the log
// events it passed on, checking that those came first.
func emitted(t *testing.T, out []*event.Event, wantLogs int) *event.Event {
	t.Helper()
	for i, e := range out {
		if (i < wantLogs) != (e.Kind == event.KindLog) {
			t.Fatalf("event %d is a %s event: want %d log events then at most one metric event", i, e.Kind, wantLogs)
		}
	}
	switch len(out) - wantLogs {
	case 0:
		return nil
	case 1:
		return out[wantLogs]
	}
	t.Fatalf("%d events out, want %d log events and at most one metric event", len(out), wantLogs)
	return nil
}

func checkLines(t *testing.T, e *event.Event, want []string) {
	t.Helper()
	if e == nil {
		t.Fatalf("no metric event; want %q", want)
	}
	if e.Kind != event.KindMetric {
		t.Fatalf("emitted a %s event", e.Kind)
	}
	if got := metricLines(e); !slices.Equal(got, want) {
		t.Fatalf("series:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestLogToMetricCounter(t *testing.T) {
	p, clock, _ := newTestL2M(t, `
metrics:
  - name: http_requests_total
    type: counter
    labels: {status: "{{ status }}", host: "{{ meta.host }}", route: "api{{ path }}"}
  - name: http_bytes_total
    type: counter
    field: bytes
`)
	batch := func() []*event.Event {
		return []*event.Event{
			logEvent(map[string]any{"status": 200.0, "path": "/a", "bytes": 100.0}, map[string]string{"host": "web1"}),
			logEvent(map[string]any{"status": 200.0, "path": "/a", "bytes": "50"}, map[string]string{"host": "web1"}),
			logEvent(map[string]any{"status": "500", "path": "/b"}, map[string]string{"host": "web2"}),
			logEvent(map[string]any{"message": "no status"}, nil),
		}
	}
	// Before the interval: counted, not emitted.
	clock.advance(14 * time.Second)
	if m := emitted(t, p.Process(batch()), 4); m != nil {
		t.Fatalf("emitted before the interval: %q", metricLines(m))
	}
	clock.advance(time.Second)
	out := p.Process(batch())
	m := emitted(t, out, 4)
	ms := t0.Add(15 * time.Second).UnixMilli()
	checkLines(t, m, []string{
		fmt.Sprintf(`{__name__="http_requests_total", host="web1", route="api/a", status="200"} 4 @%d`, ms),
		fmt.Sprintf(`{__name__="http_requests_total", host="web2", route="api/b", status="500"} 2 @%d`, ms),
		fmt.Sprintf(`{__name__="http_requests_total", route="api"} 2 @%d`, ms),
		fmt.Sprintf(`{__name__="http_bytes_total"} 300 @%d`, ms),
	})
	if !m.Time.Equal(t0.Add(15 * time.Second)) {
		t.Errorf("event time %v", m.Time)
	}
	wantMD := []prompb.MetricMetadata{
		{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "http_requests_total", Help: "Made from log events by the log_to_metric processor logs/1-log_to_metric."},
		{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "http_bytes_total", Help: "Made from log events by the log_to_metric processor logs/1-log_to_metric."},
	}
	if len(m.Metadata) != len(wantMD) {
		t.Fatalf("metadata %+v", m.Metadata)
	}
	for i := range wantMD {
		if g, w := m.Metadata[i], wantMD[i]; g.Type != w.Type || g.MetricFamilyName != w.MetricFamilyName || g.Help != w.Help {
			t.Errorf("metadata[%d] = %+v, want %+v", i, g, w)
		}
	}

	// A later processor changing the event must not change the state.
	m.Series[0].Labels[1].Value = "changed"
	m.Series[0].Samples[0].Value = -1

	// Not again before another interval; counters keep counting.
	clock.advance(14 * time.Second)
	if m := emitted(t, p.Process(batch()), 4); m != nil {
		t.Fatalf("emitted twice in an interval: %q", metricLines(m))
	}
	clock.advance(time.Second)
	ms = clock.t.UnixMilli()
	checkLines(t, emitted(t, p.Process(nil), 0), []string{
		fmt.Sprintf(`{__name__="http_requests_total", host="web1", route="api/a", status="200"} 6 @%d`, ms),
		fmt.Sprintf(`{__name__="http_requests_total", host="web2", route="api/b", status="500"} 3 @%d`, ms),
		fmt.Sprintf(`{__name__="http_requests_total", route="api"} 3 @%d`, ms),
		fmt.Sprintf(`{__name__="http_bytes_total"} 450 @%d`, ms),
	})
}

func TestLogToMetricHistogramAndGauge(t *testing.T) {
	p, clock, set := newTestL2M(t, `
interval: 1m
drop_logs: true
metrics:
  - name: request_seconds
    type: histogram
    field: timing.total
    buckets: [0.1, 1, 10]
    labels: {method: "{{ method }}"}
  - name: queue_depth
    type: gauge
    field: depth
`)
	var events []*event.Event
	for _, f := range []map[string]any{
		{"method": "GET", "timing": map[string]any{"total": 0.05}, "depth": 3.0},
		{"method": "GET", "timing": map[string]any{"total": 0.1}}, // on a bound: that bucket
		{"method": "GET", "timing": map[string]any{"total": 0.5}, "depth": int64(7)},
		{"method": "GET", "timing": map[string]any{"total": 100.0}},
		{"method": "PUT", "timing": map[string]any{"total": "2.5"}},
		{"method": "PUT", "timing": map[string]any{"total": "slow"}}, // not a number
		{"method": "PUT"}, // no value
	} {
		events = append(events, logEvent(f, nil))
	}
	metricIn := &event.Event{Kind: event.KindMetric}
	events = append(events, metricIn)
	clock.advance(time.Minute)
	out := p.Process(events)
	if len(out) != 2 || out[0] != metricIn {
		t.Fatalf("drop_logs: got %d events, want the metric event passed on and the emitted one", len(out))
	}
	ms := clock.t.UnixMilli()
	checkLines(t, out[1], []string{
		fmt.Sprintf(`{__name__="request_seconds_bucket", le="0.1", method="GET"} 2 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_bucket", le="1.0", method="GET"} 3 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_bucket", le="10.0", method="GET"} 3 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_bucket", le="+Inf", method="GET"} 4 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_sum", method="GET"} 100.65 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_count", method="GET"} 4 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_bucket", le="0.1", method="PUT"} 0 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_bucket", le="1.0", method="PUT"} 0 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_bucket", le="10.0", method="PUT"} 1 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_bucket", le="+Inf", method="PUT"} 1 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_sum", method="PUT"} 2.5 @%d`, ms),
		fmt.Sprintf(`{__name__="request_seconds_count", method="PUT"} 1 @%d`, ms),
		fmt.Sprintf(`{__name__="queue_depth"} 7 @%d`, ms),
	})
	for metric, want := range map[string]uint64{"request_seconds": 2, "queue_depth": 5} {
		name := fmt.Sprintf(`sluice_collector_log_to_metric_skipped_total{processor="logs/1-log_to_metric",metric="%s",reason="no_value"}`, metric)
		if got := set.Metrics.GetOrCreateCounter(name).Get(); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func TestLogToMetricCondition(t *testing.T) {
	p, clock, set := newTestL2M(t, `
interval: 1s
metrics:
  - name: errors_total
    type: counter
    condition: 'level == "error" && meta.env == "prod" && kind == "log" && message contains "disk"'
  - name: big_total
    type: counter
    condition: 'n != nil && n > 2'
`)
	prod := map[string]string{"env": "prod"}
	events := []*event.Event{
		logEvent(map[string]any{"level": "error", "message": "disk full"}, prod),
		logEvent(map[string]any{"level": "error", "message": "disk full"}, map[string]string{"env": "dev"}),
		logEvent(map[string]any{"level": "info", "message": "disk ok"}, prod),
		logEvent(map[string]any{"level": "error", "message": "net down"}, prod),
		logEvent(map[string]any{"level": "error", "message": "disk gone", "n": 3.0}, prod),
		logEvent(map[string]any{"n": "x"}, nil), // a run-time error
		logEvent(map[string]any{"n": 4.0}, nil),
	}
	clock.advance(time.Second)
	checkLines(t, emitted(t, p.Process(events), 7), []string{
		fmt.Sprintf(`{__name__="errors_total"} 2 @%d`, clock.t.UnixMilli()),
		fmt.Sprintf(`{__name__="big_total"} 2 @%d`, clock.t.UnixMilli()),
	})
	name := `sluice_collector_log_to_metric_skipped_total{processor="logs/1-log_to_metric",metric="big_total",reason="condition_error"}`
	if got := set.Metrics.GetOrCreateCounter(name).Get(); got != 1 {
		t.Errorf("%s = %d, want 1", name, got)
	}
}

func TestLogToMetricMaxSeries(t *testing.T) {
	p, clock, set := newTestL2M(t, `
max_series: 2
metrics:
  - {name: by_user_total, type: counter, labels: {user: "{{ user }}"}}
`)
	var events []*event.Event
	for _, u := range []string{"a", "b", "c", "a", "d", "b"} {
		events = append(events, logEvent(map[string]any{"user": u}, nil))
	}
	clock.advance(15 * time.Second)
	ms := clock.t.UnixMilli()
	checkLines(t, emitted(t, p.Process(events), 6), []string{
		fmt.Sprintf(`{__name__="by_user_total", user="a"} 2 @%d`, ms),
		fmt.Sprintf(`{__name__="by_user_total", user="b"} 2 @%d`, ms),
	})
	name := `sluice_collector_processor_dropped_total{processor="logs/1-log_to_metric",reason="max_series"}`
	if got := set.Metrics.GetOrCreateCounter(name).Get(); got != 2 {
		t.Errorf("%s = %d, want 2", name, got)
	}
}

func TestLogToMetricNothingYet(t *testing.T) {
	p, clock, _ := newTestL2M(t, `
metrics: [{name: x_total, type: counter, condition: 'false'}]
`)
	clock.advance(time.Hour)
	in := []*event.Event{logEvent(map[string]any{"message": "m"}, nil)}
	if m := emitted(t, p.Process(in), 1); m != nil {
		t.Fatalf("emitted %q with no series", metricLines(m))
	}
}

func TestLogToMetricConfig(t *testing.T) {
	tests := []struct {
		name, body string
		want       string
	}{{
		name: "good",
		body: `
        - log_to_metric:
            interval: 30s
            drop_logs: true
            max_series: 100
            metrics:
              - {name: http_requests_total, type: counter, labels: {status: "{{ status }}", host: "{{ meta.host }}"}}
              - {name: http_request_seconds, type: histogram, field: duration, buckets: [0.1, 1]}
              - {name: queue_depth, type: gauge, field: depth, condition: 'kind == "log"'}`,
	}, {
		name: "no metrics",
		body: `
        - log_to_metric: {interval: -1s, max_series: -5}`,
		want: "c.yaml:8:26: collector.pipelines.m.processors[0].log_to_metric.metrics: no metrics: want at least one {name, type}\n" +
			"c.yaml:8:37: collector.pipelines.m.processors[0].log_to_metric.interval: -1s is negative: want how often to emit the metrics, e.g. 15s\n" +
			"c.yaml:8:54: collector.pipelines.m.processors[0].log_to_metric.max_series: -5 is negative: want the most series to keep (default 10000)",
	}, {
		name: "bad metrics",
		body: `
        - log_to_metric:
            metrics:
              - {name: 1bad, type: summary}
              - {name: g, type: gauge, buckets: [1]}
              - {name: h, type: histogram, field: d, buckets: [1, 1, 0.5], labels: {le: x, __x: y, "a-b": z, ok: "{{ open"}}
              - {name: h, type: counter, condition: 'status ==', field: b}`,
		want: `c.yaml:10:24: collector.pipelines.m.processors[0].log_to_metric.metrics[0].name: "1bad" is not a metric name: want [a-zA-Z_:][a-zA-Z0-9_:]*` + "\n" +
			`c.yaml:10:36: collector.pipelines.m.processors[0].log_to_metric.metrics[0].type: "summary" is not counter, gauge or histogram` + "\n" +
			`c.yaml:11:17: collector.pipelines.m.processors[0].log_to_metric.metrics[1].field: a gauge needs field: the numeric field to observe` + "\n" +
			`c.yaml:11:49: collector.pipelines.m.processors[0].log_to_metric.metrics[1].buckets: only a histogram has buckets` + "\n" +
			`c.yaml:12:67: collector.pipelines.m.processors[0].log_to_metric.metrics[2].buckets[1]: 1 is not above 1: want increasing bounds` + "\n" +
			`c.yaml:12:70: collector.pipelines.m.processors[0].log_to_metric.metrics[2].buckets[2]: 0.5 is not above 1: want increasing bounds` + "\n" +
			`c.yaml:12:89: collector.pipelines.m.processors[0].log_to_metric.metrics[2].labels.le: le is the bucket label of a histogram` + "\n" +
			`c.yaml:12:97: collector.pipelines.m.processors[0].log_to_metric.metrics[2].labels.__x: label names starting with __ are reserved` + "\n" +
			`c.yaml:12:107: collector.pipelines.m.processors[0].log_to_metric.metrics[2].labels.a-b: "a-b" is not a label name: want [a-zA-Z_][a-zA-Z0-9_]*` + "\n" +
			`c.yaml:12:114: collector.pipelines.m.processors[0].log_to_metric.metrics[2].labels.ok: "{{ open" has a {{ with no }} after it` + "\n" +
			`c.yaml:13:24: collector.pipelines.m.processors[0].log_to_metric.metrics[3].name: "h" is already the name of metrics[2]` + "\n" +
			`c.yaml:13:53: collector.pipelines.m.processors[0].log_to_metric.metrics[3].condition: "status ==" does not compile: unexpected token EOF (at column 9)`,
	}, {
		name: "unknown key",
		body: `
        - log_to_metric:
            metrics: [{name: a, type: counter, lables: {}}]`,
		want: "c.yaml:9:48: unknown key \"lables\" in collector.pipelines.m.processors[0].log_to_metric.metrics[0] (known: buckets, condition, field, labels, name, type)",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := loadProcessor(t, tt.body)
			if got != tt.want {
				t.Errorf("errors:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestLogToMetricConcurrent counts from several goroutines at once; run
// with -race.
func TestLogToMetricConcurrent(t *testing.T) {
	p, clock, _ := newTestL2M(t, `
metrics: [{name: lines_total, type: counter, labels: {n: "{{ n }}"}}]
`)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for range 100 {
				p.Process([]*event.Event{logEvent(map[string]any{"n": float64(g % 2)}, nil)})
			}
		})
	}
	wg.Wait()
	clock.advance(15 * time.Second)
	ms := clock.t.UnixMilli()
	checkLines(t, emitted(t, p.Process(nil), 0), []string{
		fmt.Sprintf(`{__name__="lines_total", n="0"} 200 @%d`, ms),
		fmt.Sprintf(`{__name__="lines_total", n="1"} 200 @%d`, ms),
	})
}

// TestLogToMetricThenRelabel runs the two processors as one pipeline:
// relabel rewriting an emitted event in place must not change what the
// next emission holds.
func TestLogToMetricThenRelabel(t *testing.T) {
	p, clock, _ := newTestL2M(t, `
metrics: [{name: lines_total, type: counter, labels: {host: "{{ meta.host }}", level: "{{ level }}"}}]
`)
	r, _ := newTestRelabel(t, `
  - {source_labels: [host], regex: "(.*)\\.example\\.com", target_label: host, replacement: "$1"}
  - {regex: level, action: labeldrop}
  - {target_label: cluster, replacement: eu-1}`)
	in := func() []*event.Event {
		return []*event.Event{logEvent(map[string]any{"level": "info"}, map[string]string{"host": "web1.example.com"})}
	}
	for round := 1; round <= 2; round++ {
		clock.advance(15 * time.Second)
		out := r.Process(p.Process(in()))
		checkLines(t, emitted(t, out, 1), []string{
			fmt.Sprintf(`{__name__="lines_total", cluster="eu-1", host="web1"} %d @%d`, round, clock.t.UnixMilli()),
		})
	}
}
