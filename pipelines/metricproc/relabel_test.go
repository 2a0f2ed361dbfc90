package metricproc

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/prompb"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

func testSettings(name string) component.Settings {
	return component.Settings{Name: name, Logger: slog.New(slog.DiscardHandler), Metrics: metrics.NewSet()}
}

// series returns a series with labels from name/value pairs and one
// sample.
func series(pairs ...string) prompb.TimeSeries {
	s := prompb.TimeSeries{Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}}}
	for i := 0; i+1 < len(pairs); i += 2 {
		s.Labels = append(s.Labels, prompb.Label{Name: pairs[i], Value: pairs[i+1]})
	}
	return s
}

// labelsText renders a series' labels as {a="1", b="2"}, in their order.
func labelsText(s prompb.TimeSeries) string {
	parts := make([]string, len(s.Labels))
	for i, l := range s.Labels {
		parts[i] = fmt.Sprintf("%s=%q", l.Name, l.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func newTestRelabel(t testing.TB, rules string) (*Relabel, component.Settings) {
	t.Helper()
	var cfg RelabelConfig
	if err := yaml.Unmarshal([]byte("configs:\n"+rules), &cfg); err != nil {
		t.Fatalf("decode rules: %v", err)
	}
	set := testSettings("metrics/0-relabel")
	r, err := NewRelabel(cfg, set)
	if err != nil {
		t.Fatalf("NewRelabel: %v", err)
	}
	return r, set
}

func TestRelabel(t *testing.T) {
	node := series("__name__", "node_load1", "instance", "db1:9100", "job", "node")
	httpReq := series("__name__", "http_requests_total", "code", "200", "instance", "web1:8080", "job", "web")
	tests := []struct {
		name  string
		rules string
		in    []prompb.TimeSeries
		want  []string // labelsText of the series kept, in order
	}{{
		name: "keep",
		rules: `
  - {source_labels: [__name__], regex: "http_.*", action: keep}`,
		in:   []prompb.TimeSeries{node, httpReq},
		want: []string{`{__name__="http_requests_total", code="200", instance="web1:8080", job="web"}`},
	}, {
		name: "drop by two labels joined",
		rules: `
  - {source_labels: [job, code], separator: "/", regex: "web/2..", action: drop}`,
		in:   []prompb.TimeSeries{node, httpReq},
		want: []string{`{__name__="node_load1", instance="db1:9100", job="node"}`},
	}, {
		name: "replace with a capture group",
		rules: `
  - {source_labels: [instance], regex: "(.*):\\d+", target_label: host, replacement: "$1"}`,
		in: []prompb.TimeSeries{node, httpReq},
		want: []string{
			`{__name__="node_load1", host="db1", instance="db1:9100", job="node"}`,
			`{__name__="http_requests_total", code="200", host="web1", instance="web1:8080", job="web"}`,
		},
	}, {
		name: "replace: default regex copies, a constant overwrites, no match leaves alone",
		rules: `
  - {source_labels: [job], target_label: service}
  - {source_labels: [job], regex: node, target_label: team, replacement: infra}
  - {target_label: job, replacement: ""}`,
		in: []prompb.TimeSeries{node, httpReq},
		want: []string{
			`{__name__="node_load1", instance="db1:9100", service="node", team="infra"}`,
			`{__name__="http_requests_total", code="200", instance="web1:8080", service="web"}`,
		},
	}, {
		name: "replace into a target named by a group",
		rules: `
  - {source_labels: [job, code], regex: "(\\w+);(\\d+)", target_label: "code_${2}", replacement: "$1"}`,
		in: []prompb.TimeSeries{httpReq},
		want: []string{
			`{__name__="http_requests_total", code="200", code_200="web", instance="web1:8080", job="web"}`,
		},
	}, {
		name: "labelmap",
		rules: `
  - {regex: "k8s_(.+)", action: labelmap}`,
		in: []prompb.TimeSeries{series("__name__", "up", "k8s_pod", "p-1", "k8s_ns", "prod")},
		want: []string{
			`{__name__="up", k8s_ns="prod", k8s_pod="p-1", ns="prod", pod="p-1"}`,
		},
	}, {
		name: "labeldrop",
		rules: `
  - {regex: "instance|code", action: labeldrop}`,
		in: []prompb.TimeSeries{node, httpReq},
		want: []string{
			`{__name__="node_load1", job="node"}`,
			`{__name__="http_requests_total", job="web"}`,
		},
	}, {
		name: "labelkeep",
		rules: `
  - {regex: "__name__|job", action: labelkeep}`,
		in: []prompb.TimeSeries{httpReq},
		want: []string{
			`{__name__="http_requests_total", job="web"}`,
		},
	}, {
		name: "hashmod",
		rules: `
  - {source_labels: [instance], modulus: 8, target_label: shard, action: hashmod}`,
		in: []prompb.TimeSeries{node, httpReq},
		want: []string{
			`{__name__="node_load1", instance="db1:9100", job="node", shard="7"}`,
			`{__name__="http_requests_total", code="200", instance="web1:8080", job="web", shard="2"}`,
		},
	}, {
		name: "lowercase and keepequal",
		rules: `
  - {source_labels: [env], target_label: env, action: lowercase}
  - {source_labels: [env], target_label: want_env, action: keepequal}`,
		in: []prompb.TimeSeries{
			series("__name__", "up", "env", "PROD", "want_env", "prod"),
			series("__name__", "up", "env", "Dev", "want_env", "prod"),
		},
		want: []string{`{__name__="up", env="prod", want_env="prod"}`},
	}, {
		name: "a series left with no labels is dropped",
		rules: `
  - {regex: ".*", action: labeldrop}`,
		in:   []prompb.TimeSeries{node},
		want: nil,
	}, {
		name: "unsorted input is sorted, empty values go",
		rules: `
  - {source_labels: [job], target_label: a}`,
		in:   []prompb.TimeSeries{series("job", "x", "__name__", "up", "empty", "")},
		want: []string{`{__name__="up", a="x", job="x"}`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, set := newTestRelabel(t, tt.rules)
			in := cloneSeries(tt.in)
			metric := &event.Event{Kind: event.KindMetric, Series: in}
			logEv := event.NewLog("a log line", time.Unix(1, 0), nil)
			out := r.Process([]*event.Event{logEv, metric})
			if len(out) == 0 || out[0] != logEv || logEv.Message() != "a log line" {
				t.Fatalf("the log event was not passed on first, unchanged: %v", out)
			}
			var got []string
			if len(out) == 2 {
				for _, s := range out[1].Series {
					got = append(got, labelsText(s))
					if len(s.Samples) != 1 || s.Samples[0].Value != 1 || s.Samples[0].Timestamp != 1000 {
						t.Errorf("samples of %s changed: %v", labelsText(s), s.Samples)
					}
				}
			} else if len(out) != 1 {
				t.Fatalf("got %d events, want 1 or 2", len(out))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("series:\n got %q\nwant %q", got, tt.want)
			}
			if len(tt.want) == 0 && len(out) != 1 {
				t.Errorf("a metric event with no series left was passed on")
			}
			wantDropped := len(tt.in) - len(tt.want)
			name := `sluice_collector_relabel_series_dropped_total{processor="metrics/0-relabel"}`
			if n := set.Metrics.GetOrCreateCounter(name).Get(); n != uint64(wantDropped) {
				t.Errorf("%s = %d, want %d", name, n, wantDropped)
			}
		})
	}
}

func cloneSeries(in []prompb.TimeSeries) []prompb.TimeSeries {
	out := make([]prompb.TimeSeries, len(in))
	for i, s := range in {
		out[i] = prompb.TimeSeries{Labels: slices.Clone(s.Labels), Samples: slices.Clone(s.Samples)}
	}
	return out
}

// TestRelabelSharedInput checks that rewriting one series' labels does
// not touch another series' labels that share a backing array (as
// decoded requests can).
func TestRelabelSharedInput(t *testing.T) {
	r, _ := newTestRelabel(t, `
  - {source_labels: [instance], regex: "(.*):\\d+", target_label: host, replacement: "$1"}`)
	backing := []prompb.Label{{Name: "__name__", Value: "a"}, {Name: "instance", Value: "h1:1"},
		{Name: "__name__", Value: "b"}, {Name: "instance", Value: "h2:1"}}
	e := &event.Event{Kind: event.KindMetric, Series: []prompb.TimeSeries{
		{Labels: backing[0:2:2]}, {Labels: backing[2:4:4]},
	}}
	out := r.Process([]*event.Event{e})
	var got []string
	for _, s := range out[0].Series {
		got = append(got, labelsText(s))
	}
	want := []string{`{__name__="a", host="h1", instance="h1:1"}`, `{__name__="b", host="h2", instance="h2:1"}`}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestRelabelConcurrent runs Process from several goroutines (each with
// its own scratch space from the pool); run with -race.
func TestRelabelConcurrent(t *testing.T) {
	r, _ := newTestRelabel(t, benchRules)
	src := benchSeriesLabels()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				e := &event.Event{}
				resetEvent(e, src, make([]prompb.Label, len(src)*10))
				out := r.Process([]*event.Event{e})
				if len(out) != 1 || len(out[0].Series) != benchSeries*9/10 {
					t.Errorf("kept %d events", len(out))
					return
				}
				if got, want := labelsText(out[0].Series[0]), `{__name__="http_metric_0", code="200", container="app", host="10.1.2.3", instance="10.1.2.3:9100", job="kubernetes-pods", method="GET", namespace="prod", pod="app-7d9f8b6c5-x2x4k"}`; got != want {
					t.Errorf("got %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
