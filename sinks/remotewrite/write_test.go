package remotewrite

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/sluicehq/sluice/pipelines/event"
)

// TestWriteV1 checks what a v1 request holds: labels sorted, empty ones
// left out, invalid series dropped and counted, a series' samples from
// several events merged in timestamp order, staleness markers as they
// are, log events dropped and counted, and the spec's headers.
func TestWriteV1(t *testing.T) {
	rec := newRecorder(t, nil)
	s, set, _ := testSink(t, Config{URL: rec.srv.URL, Shards: 1})
	unsortedLabels := lbls("zone", "a", "__name__", "up", "empty", "", "job", "node")
	events := []*event.Event{
		metricEvent(
			prompb.TimeSeries{Labels: unsortedLabels, Samples: samples(3000, 1, 1000, 0)},
			prompb.TimeSeries{Labels: lbls("__name__", "temp", "room", "k"), Samples: samples(1000, 21.5)},
			prompb.TimeSeries{Labels: lbls("job", "x"), Samples: samples(1000, 1, 2000, 2)},                       // no __name__
			prompb.TimeSeries{Labels: lbls("__name__", "", "job", "x"), Samples: samples(1000, 1)},                // empty __name__
			prompb.TimeSeries{Labels: lbls("__name__", "d", "a", "1", "a", "2"), Samples: samples(1000, 1, 2, 2)}, // a twice
			prompb.TimeSeries{Labels: lbls("__name__", "nothing")},                                                // no samples
		),
		event.NewLog("a log line", time.Now(), nil),
		metricEvent(prompb.TimeSeries{Labels: lbls("__name__", "up", "job", "node", "zone", "a"), Samples: []prompb.Sample{{Timestamp: 2000, Value: staleNaN}}}),
		event.NewLog("another", time.Now(), nil),
	}
	events[0].Metadata = []prompb.MetricMetadata{{MetricFamilyName: "up", Type: prompb.MetricMetadata_GAUGE, Help: "Is it up."}}
	if err := s.Write(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	h := reqs[0].header
	for k, want := range map[string]string{
		"Content-Encoding":                  "snappy",
		"Content-Type":                      "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if ua := h.Get("User-Agent"); !strings.HasPrefix(ua, "sluice/") {
		t.Errorf("User-Agent = %q", ua)
	}
	want := []string{
		`{__name__="up", job="node", zone="a"} 1000:0 2000:stale 3000:1`,
		`{__name__="temp", room="k"} 1000:21.5`,
	}
	if got := reqs[0].series(); !slices.Equal(got, want) {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := math.Float64bits(reqs[0].v1.Timeseries[0].Samples[1].Value); got != value.StaleNaN {
		t.Errorf("staleness marker bits %x, want %x", got, value.StaleNaN)
	}
	if md := reqs[0].v1.Metadata; len(md) != 1 || md[0].MetricFamilyName != "up" || md[0].Type != prompb.MetricMetadata_GAUGE || md[0].Help != "Is it up." {
		t.Errorf("metadata %+v", md)
	}
	// The events are not changed.
	if !slices.EqualFunc(events[0].Series[0].Labels, lbls("zone", "a", "__name__", "up", "empty", "", "job", "node"), labelEq) {
		t.Errorf("event labels changed: %v", events[0].Series[0].Labels)
	}
	for name, want := range map[string]uint64{
		`sluice_collector_sink_samples_sent_total{sink="rw"}`:                     4,
		`sluice_collector_sink_requests_total{sink="rw",code="204"}`:              1,
		`sluice_collector_sink_dropped_total{sink="rw",reason="not_metrics"}`:     2,
		`sluice_collector_sink_dropped_total{sink="rw",reason="no_name"}`:         3,
		`sluice_collector_sink_dropped_total{sink="rw",reason="duplicate_label"}`: 2,
		`sluice_collector_sink_dropped_total{sink="rw",reason="4xx"}`:             0,
		`sluice_collector_sink_retries_total{sink="rw"}`:                          0,
	} {
		if got := counter(set, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func labelEq(a, b prompb.Label) bool { return a.Name == b.Name && a.Value == b.Value }

// TestWriteV2 checks a v2 request: symbols table, labels, metadata of
// the series' family (exact name or without a suffix), a series with
// float and histogram samples split in two, and the v2 headers.
func TestWriteV2(t *testing.T) {
	rec := newRecorder(t, nil)
	s, set, _ := testSink(t, Config{URL: rec.srv.URL, Shards: 1, Protocol: "v2"})
	hist := prompb.FromIntHistogram(5000, &histogram.Histogram{Count: 3, Sum: 1.5, Schema: 0, ZeroThreshold: 0.001,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 1}})
	e := metricEvent(
		prompb.TimeSeries{Labels: lbls("__name__", "http_requests_total", "code", "200"), Samples: samples(1000, 10, 2000, 12)},
		prompb.TimeSeries{Labels: lbls("__name__", "latency_seconds_bucket", "le", "+Inf"), Samples: samples(1000, 3)},
		prompb.TimeSeries{Labels: lbls("__name__", "no_meta"), Samples: samples(1000, 1)},
		prompb.TimeSeries{Labels: lbls("__name__", "mixed"), Samples: samples(1000, 1), Histograms: []prompb.Histogram{hist}},
	)
	e.Metadata = []prompb.MetricMetadata{
		{MetricFamilyName: "http_requests_total", Type: prompb.MetricMetadata_COUNTER, Help: "Requests.", Unit: ""},
		{MetricFamilyName: "latency_seconds", Type: prompb.MetricMetadata_HISTOGRAM, Help: "Latency.", Unit: "seconds"},
	}
	if err := s.Write(t.Context(), []*event.Event{e}); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	h := reqs[0].header
	if got := h.Get("Content-Type"); got != "application/x-protobuf;proto=io.prometheus.write.v2.Request" {
		t.Errorf("Content-Type %q", got)
	}
	if got := h.Get("X-Prometheus-Remote-Write-Version"); got != "2.0.0" {
		t.Errorf("version %q", got)
	}
	if got := h.Get("Content-Encoding"); got != "snappy" {
		t.Errorf("Content-Encoding %q", got)
	}
	req := reqs[0].v2
	if req.Symbols[0] != "" {
		t.Errorf("symbols[0] = %q, want empty", req.Symbols[0])
	}
	want := []string{
		`{__name__="http_requests_total", code="200"} 1000:10 2000:12`,
		`{__name__="latency_seconds_bucket", le="+Inf"} 1000:3`,
		`{__name__="no_meta"} 1000:1`,
		`{__name__="mixed"} 1000:1`,
		`{__name__="mixed"}`,
	}
	if got := reqs[0].series(); !slices.Equal(got, want) {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	type md struct {
		typ        writev2.Metadata_MetricType
		help, unit string
	}
	wantMD := []md{{writev2.Metadata_METRIC_TYPE_COUNTER, "Requests.", ""}, {writev2.Metadata_METRIC_TYPE_HISTOGRAM, "Latency.", "seconds"}, {}, {}, {}}
	for i, ts := range req.Timeseries {
		got := md{ts.Metadata.Type, req.Symbols[ts.Metadata.HelpRef], req.Symbols[ts.Metadata.UnitRef]}
		if got != wantMD[i] {
			t.Errorf("series %d metadata %+v, want %+v", i, got, wantMD[i])
		}
	}
	if n := len(req.Timeseries); n != 5 {
		t.Fatalf("%d series, want 5", n)
	}
	if ts := req.Timeseries[3]; len(ts.Histograms) != 0 {
		t.Errorf("float series of mixed has %d histograms", len(ts.Histograms))
	}
	if hs := req.Timeseries[4].Histograms; len(hs) != 1 || hs[0].Timestamp != 5000 || hs[0].ToIntHistogram().String() != hist.ToIntHistogram().String() {
		t.Errorf("histograms of mixed: %+v, want %v", hs, hist.ToIntHistogram())
	}
	if got := counter(set, `sluice_collector_sink_samples_sent_total{sink="rw"}`); got != 6 {
		t.Errorf("samples sent %d, want 6", got)
	}
}

// TestDuplicateTimestamps checks that of a series' samples with the same
// timestamp only the latest event's is sent, and the others counted.
func TestDuplicateTimestamps(t *testing.T) {
	rec := newRecorder(t, nil)
	s, set, _ := testSink(t, Config{URL: rec.srv.URL, Shards: 1})
	events := []*event.Event{
		metricEvent(
			prompb.TimeSeries{Labels: lbls("__name__", "a"), Samples: samples(1000, 1, 2000, 2)},
			prompb.TimeSeries{Labels: lbls("__name__", "b"), Samples: samples(1000, 1, 1000, 2, 500, 3)},
		),
		metricEvent(prompb.TimeSeries{Labels: lbls("__name__", "a"), Samples: []prompb.Sample{{Timestamp: 2000, Value: staleNaN}, {Timestamp: 3000, Value: 3}}}),
	}
	if err := s.Write(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	want := []string{`{__name__="a"} 1000:1 2000:stale 3000:3`, `{__name__="b"} 500:3 1000:2`}
	if got := rec.allSeries(); !slices.Equal(got, want) {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := counter(set, `sluice_collector_sink_dropped_total{sink="rw",reason="duplicate_timestamp"}`); got != 2 {
		t.Errorf("duplicate timestamps dropped %d, want 2", got)
	}
}

// TestMetadataTypesV2 checks every metric type through Prometheus' own
// decoding of v2 metadata.
func TestMetadataTypesV2(t *testing.T) {
	tests := []struct {
		in   prompb.MetricMetadata_MetricType
		want model.MetricType
	}{
		{prompb.MetricMetadata_UNKNOWN, model.MetricTypeUnknown},
		{prompb.MetricMetadata_COUNTER, model.MetricTypeCounter},
		{prompb.MetricMetadata_GAUGE, model.MetricTypeGauge},
		{prompb.MetricMetadata_HISTOGRAM, model.MetricTypeHistogram},
		{prompb.MetricMetadata_GAUGEHISTOGRAM, model.MetricTypeGaugeHistogram},
		{prompb.MetricMetadata_SUMMARY, model.MetricTypeSummary},
		{prompb.MetricMetadata_INFO, model.MetricTypeInfo},
		{prompb.MetricMetadata_STATESET, model.MetricTypeStateset},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			var e encoder
			e.resetSymbols()
			md := map[string]prompb.MetricMetadata{"m": {MetricFamilyName: "m", Type: tt.in, Help: "h", Unit: "u"}}
			ts := writev2.TimeSeries{Metadata: e.metadataV2(lbls("__name__", "m"), md)}
			got, err := ts.ToMetadata(e.symbolList)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tt.want || got.Help != "h" || got.Unit != "u" {
				t.Errorf("metadata %+v, want type %s, help h, unit u", got, tt.want)
			}
		})
	}
}
