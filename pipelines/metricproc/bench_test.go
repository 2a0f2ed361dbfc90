package metricproc

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/pipelines/event"
)

// benchRules is a typical metric_relabel_configs: keep the metrics of
// interest, derive a label, drop noisy ones.
const benchRules = `
  - {source_labels: [__name__], regex: "http_.*|node_.*|process_.*", action: keep}
  - {source_labels: [instance], regex: "(.*):\\d+", target_label: host, replacement: "$1"}
  - {regex: "pod_template_hash|controller_revision_hash", action: labeldrop}
`

const benchSeries = 1000

// benchEvent returns series of 10 labels each, as one scrape of one
// target gives: 1 in 10 is dropped by benchRules' keep.
func benchSeriesLabels() [][]prompb.Label {
	prefixes := []string{"http_", "node_", "process_", "http_", "node_", "process_", "http_", "node_", "process_", "go_"}
	out := make([][]prompb.Label, benchSeries)
	for i := range out {
		out[i] = []prompb.Label{
			{Name: "__name__", Value: fmt.Sprintf("%smetric_%d", prefixes[i%10], i/10)},
			{Name: "code", Value: fmt.Sprint(200 + i%5)},
			{Name: "container", Value: "app"},
			{Name: "controller_revision_hash", Value: "7d9f8b6c5"},
			{Name: "instance", Value: "10.1.2.3:9100"},
			{Name: "job", Value: "kubernetes-pods"},
			{Name: "method", Value: []string{"GET", "POST", "PUT"}[i%3]},
			{Name: "namespace", Value: "prod"},
			{Name: "pod", Value: "app-7d9f8b6c5-x2x4k"},
			{Name: "pod_template_hash", Value: "7d9f8b6c5"},
		}
	}
	return out
}

// resetEvent gives e fresh copies of the series: relabel rewrites them.
func resetEvent(e *event.Event, src [][]prompb.Label, store []prompb.Label) {
	e.Kind = event.KindMetric
	e.Series = e.Series[:0]
	for _, ls := range src {
		n := copy(store, ls)
		e.Series = append(e.Series, prompb.TimeSeries{Labels: store[:n:n]})
		store = store[n:]
	}
}

func BenchmarkRelabel(b *testing.B) {
	r, _ := newTestRelabel(b, benchRules)
	src := benchSeriesLabels()
	e := &event.Event{Series: make([]prompb.TimeSeries, 0, benchSeries)}
	store := make([]prompb.Label, benchSeries*10)
	batch := make([]*event.Event, 1)
	b.ReportAllocs()
	for b.Loop() {
		// Copying the input back in is part of the time (about 40 ns
		// a series): b.StopTimer costs more than that.
		resetEvent(e, src, store)
		batch[0] = e
		out := r.Process(batch)
		if len(out) != 1 || len(out[0].Series) != benchSeries*9/10 {
			b.Fatalf("kept %d series", len(out[0].Series))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSeries), "ns/series")
}

// BenchmarkRelabelPrometheus is the same work done the plain way
// (labels.Labels per series, labels.Builder, relabel.ProcessBuilder), to
// compare with.
func BenchmarkRelabelPrometheus(b *testing.B) {
	var cfg RelabelConfig
	r, _ := newTestRelabel(b, benchRules)
	for _, ru := range r.rules {
		c := ru.cfg
		cfg.Configs = append(cfg.Configs, &c)
	}
	src := benchSeriesLabels()
	e := &event.Event{Series: make([]prompb.TimeSeries, 0, benchSeries)}
	store := make([]prompb.Label, benchSeries*10)
	sb := labels.NewScratchBuilder(16)
	lb := labels.NewBuilder(labels.EmptyLabels())
	b.ReportAllocs()
	for b.Loop() {
		resetEvent(e, src, store)
		kept := e.Series[:0]
		for _, s := range e.Series {
			sb.Reset()
			for _, l := range s.Labels {
				sb.Add(l.Name, l.Value)
			}
			lb.Reset(sb.Labels())
			if !relabel.ProcessBuilder(lb, cfg.Configs...) {
				continue
			}
			res := lb.Labels()
			s.Labels = s.Labels[:0]
			res.Range(func(l labels.Label) { s.Labels = append(s.Labels, prompb.Label{Name: l.Name, Value: l.Value}) })
			kept = append(kept, s)
		}
		if len(kept) != benchSeries*9/10 {
			b.Fatalf("kept %d series", len(kept))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSeries), "ns/series")
}

// BenchmarkRelabelInputCopy is the part of BenchmarkRelabel that only
// copies the input back in.
func BenchmarkRelabelInputCopy(b *testing.B) {
	src := benchSeriesLabels()
	e := &event.Event{Series: make([]prompb.TimeSeries, 0, benchSeries)}
	store := make([]prompb.Label, benchSeries*10)
	b.ReportAllocs()
	for b.Loop() {
		resetEvent(e, src, store)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSeries), "ns/series")
}

const benchLogs = 1000

// BenchmarkLogToMetric counts batches of access-log events into a
// labelled counter, a histogram and a counter behind a condition.
func BenchmarkLogToMetric(b *testing.B) {
	var cfg LogToMetricConfig
	if err := yaml.Unmarshal([]byte(`
metrics:
  - {name: http_requests_total, type: counter, labels: {status: "{{ status }}", method: "{{ method }}", host: "{{ meta.host }}"}}
  - {name: http_request_seconds, type: histogram, field: duration, labels: {method: "{{ method }}"}}
  - {name: http_errors_total, type: counter, condition: "status >= 500"}
`), &cfg); err != nil {
		b.Fatal(err)
	}
	clock := &fakeClock{t: t0}
	p, err := newLogToMetric(cfg, testSettings("bench"), clock.now)
	if err != nil {
		b.Fatal(err)
	}
	events := make([]*event.Event, benchLogs)
	meta := map[string]string{"host": "web1"}
	for i := range events {
		events[i] = &event.Event{Kind: event.KindLog, Meta: meta, Fields: event.FieldsOf(map[string]any{
			"message":  "GET /api/v1/items 200",
			"status":   float64([]int{200, 200, 200, 404, 500}[i%5]),
			"method":   []string{"GET", "POST"}[i%2],
			"duration": float64(i%100) / 100,
		})}
	}
	batch := make([]*event.Event, benchLogs)
	b.ReportAllocs()
	for b.Loop() {
		copy(batch, events)
		clock.advance(time.Second) // an emission every 15 batches
		if out := p.Process(batch); len(out) < benchLogs {
			b.Fatalf("%d events out", len(out))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchLogs), "ns/event")
}
