package remotewrite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

var staleNaN = math.Float64frombits(value.StaleNaN)

// lbls returns labels from name, value pairs, in the order given.
func lbls(kv ...string) []prompb.Label {
	out := make([]prompb.Label, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, prompb.Label{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// samples returns samples from timestamp, value pairs.
func samples(tv ...float64) []prompb.Sample {
	out := make([]prompb.Sample, 0, len(tv)/2)
	for i := 0; i < len(tv); i += 2 {
		out = append(out, prompb.Sample{Timestamp: int64(tv[i]), Value: tv[i+1]})
	}
	return out
}

func metricEvent(series ...prompb.TimeSeries) *event.Event {
	return &event.Event{Kind: event.KindMetric, Series: series}
}

// render writes a series as {a="b", c="d"} t:v t:v, values bit-exact
// (a staleness marker is "stale", any other NaN its bits).
func render(labels []prompb.Label, ss []prompb.Sample) string {
	var b strings.Builder
	b.WriteString("{")
	for i, l := range labels {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
	}
	b.WriteString("}")
	for _, s := range ss {
		fmt.Fprintf(&b, " %d:%s", s.Timestamp, renderValue(s.Value))
	}
	return b.String()
}

func renderValue(v float64) string {
	switch bits := math.Float64bits(v); {
	case bits == value.StaleNaN:
		return "stale"
	case math.IsNaN(v):
		return fmt.Sprintf("nan(%x)", bits)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// received is one request a test server got.
type received struct {
	header http.Header
	v1     *prompb.WriteRequest
	v2     *writev2.Request
	at     time.Time
}

// timeseries returns the request's series with their labels and float
// samples, v1 or v2 (v2 labels resolved).
func (r received) timeseries() []prompb.TimeSeries {
	if r.v1 != nil {
		return r.v1.Timeseries
	}
	var out []prompb.TimeSeries
	for _, ts := range r.v2.Timeseries {
		var p prompb.TimeSeries
		for i := 0; i+1 < len(ts.LabelsRefs); i += 2 {
			p.Labels = append(p.Labels, prompb.Label{Name: r.v2.Symbols[ts.LabelsRefs[i]], Value: r.v2.Symbols[ts.LabelsRefs[i+1]]})
		}
		for _, s := range ts.Samples {
			p.Samples = append(p.Samples, prompb.Sample{Timestamp: s.Timestamp, Value: s.Value})
		}
		out = append(out, p)
	}
	return out
}

// series renders the request's series.
func (r received) series() []string {
	var out []string
	for _, ts := range r.timeseries() {
		out = append(out, render(ts.Labels, ts.Samples))
	}
	return out
}

// recorder is a remote write receiver for tests: it decodes every
// request and answers what respond says (204 when respond is nil).
type recorder struct {
	t       testing.TB
	srv     *httptest.Server
	respond func(n int, w http.ResponseWriter) // n counts requests from 0

	mu   sync.Mutex
	reqs []received
}

func newRecorder(t testing.TB, respond func(n int, w http.ResponseWriter)) *recorder {
	r := &recorder{t: t, respond: respond}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) serve(w http.ResponseWriter, req *http.Request) {
	rec := received{header: req.Header.Clone(), at: time.Now()}
	body, err := io.ReadAll(req.Body)
	if err == nil {
		body, err = snappy.Decode(nil, body)
	}
	if err == nil && req.Header.Get("Content-Type") == contentTypeV2 {
		rec.v2 = &writev2.Request{}
		err = rec.v2.Unmarshal(body)
	} else if err == nil {
		rec.v1 = &prompb.WriteRequest{}
		err = rec.v1.Unmarshal(body)
	}
	if err != nil {
		r.t.Errorf("test server: decode request: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	n := len(r.reqs)
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	if r.respond == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	r.respond(n, w)
}

func (r *recorder) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

// allSeries renders the series of every request, sorted.
func (r *recorder) allSeries() []string {
	var out []string
	for _, req := range r.requests() {
		out = append(out, req.series()...)
	}
	sort.Strings(out)
	return out
}

// testSink returns a sink with cfg (URL set to url when empty), its
// metrics and its log.
func testSink(t testing.TB, cfg Config) (*Sink, *metrics.Set, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	set := component.Settings{Name: "rw", Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &log}, nil)), Metrics: metrics.NewSet()}
	s, err := New(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, set.Metrics, &log
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// counter returns a counter's value in set.
func counter(set *metrics.Set, name string) uint64 {
	return set.GetOrCreateCounter(name).Get()
}
