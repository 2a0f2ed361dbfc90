package collector

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/prompb"
)

// decodeWriteRequest is decodeWriteRequestInto of a body of its own, as
// the tests and the fuzz target call it.
func decodeWriteRequest(body []byte) ([]prompb.TimeSeries, []prompb.MetricMetadata, bool) {
	return decodeWriteRequestInto(string(body), &wrArena{})
}

func sampleWriteRequest() prompb.WriteRequest {
	return prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "node"}, {Name: "empty", Value: ""}},
				Samples: []prompb.Sample{{Value: 1, Timestamp: 1700000000000}, {Value: math.Float64frombits(0x7ff0000000000002), Timestamp: -5}}},
			{Labels: []prompb.Label{{Name: "__name__", Value: "x"}}},
		},
		Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "x", Help: "h", Unit: "s"}},
	}
}

// sameSeries compares what both decoders produce, field by field (the
// generated types carry bookkeeping fields that do not matter here).
func sameSeries(t testing.TB, got, want []prompb.TimeSeries, gotMD, wantMD []prompb.MetricMetadata) {
	t.Helper()
	if len(got) != len(want) || len(gotMD) != len(wantMD) {
		t.Fatalf("got %d series %d metadata, want %d and %d", len(got), len(gotMD), len(want), len(wantMD))
	}
	for i := range want {
		g, w := got[i], want[i]
		if len(g.Labels) != len(w.Labels) || len(g.Samples) != len(w.Samples) {
			t.Fatalf("series %d: got %+v want %+v", i, g, w)
		}
		for j := range w.Labels {
			if g.Labels[j].Name != w.Labels[j].Name || g.Labels[j].Value != w.Labels[j].Value {
				t.Fatalf("series %d label %d: got %+v want %+v", i, j, g.Labels[j], w.Labels[j])
			}
		}
		for j := range w.Samples {
			if math.Float64bits(g.Samples[j].Value) != math.Float64bits(w.Samples[j].Value) || g.Samples[j].Timestamp != w.Samples[j].Timestamp {
				t.Fatalf("series %d sample %d: got %+v want %+v", i, j, g.Samples[j], w.Samples[j])
			}
		}
	}
	for i := range wantMD {
		g, w := gotMD[i], wantMD[i]
		if g.Type != w.Type || g.MetricFamilyName != w.MetricFamilyName || g.Help != w.Help || g.Unit != w.Unit {
			t.Fatalf("metadata %d: got %+v want %+v", i, g, w)
		}
	}
}

func TestDecodeWriteRequest(t *testing.T) {
	wr := sampleWriteRequest()
	body, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	series, md, ok := decodeWriteRequest(body)
	if !ok {
		t.Fatal("fast path refused a plain request")
	}
	sameSeries(t, series, wr.Timeseries, md, wr.Metadata)
	// An append to one series' labels must not overwrite the next's.
	series[0].Labels = append(series[0].Labels, prompb.Label{Name: "z", Value: "z"})
	if series[1].Labels[0].Name != "__name__" {
		t.Fatal("series share label capacity")
	}
	// Exemplars and histograms are left to the generated decoder.
	wr.Timeseries[0].Histograms = []prompb.Histogram{{Sum: 1}}
	body, _ = wr.Marshal()
	if _, _, ok := decodeWriteRequest(body); ok {
		t.Fatal("fast path took a request with a histogram")
	}
	for _, bad := range [][]byte{{0x0a, 0x05, 0x0a}, {0x0a}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, {0x0a, 0x80, 0x80, 0x80, 0x80, 0x08}} {
		if _, _, ok := decodeWriteRequest(bad); ok {
			t.Fatalf("fast path accepted % x", bad)
		}
	}
}

// TestDecodeIntoOneArena decodes many bodies into one arena, as a batch
// does, its chunks growing and starting anew mid-body, and checks that
// every body's series are still as the generated decoder reads them
// once all are decoded (and one the fast path refuses left nothing).
func TestDecodeIntoOneArena(t *testing.T) {
	var a wrArena
	type decoded struct {
		series []prompb.TimeSeries
		md     []prompb.MetricMetadata
		want   prompb.WriteRequest
	}
	var all []decoded
	for n := range 40 {
		wr := prompb.WriteRequest{}
		for i := range n * 7 {
			wr.Timeseries = append(wr.Timeseries, prompb.TimeSeries{
				Labels:  []prompb.Label{{Name: "__name__", Value: fmt.Sprintf("m%d", i)}, {Name: "body", Value: fmt.Sprint(n)}, {Name: "long", Value: strings.Repeat("v", i%200)}},
				Samples: []prompb.Sample{{Value: float64(i), Timestamp: int64(n*1000 + i)}, {Value: 0, Timestamp: 0}, {Value: -1, Timestamp: -int64(i)}},
			})
		}
		if n%5 == 4 { // refused: the arena's next body overwrites what it got to
			wr.Timeseries[len(wr.Timeseries)-1].Histograms = []prompb.Histogram{{Sum: 1}}
		}
		body, err := wr.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		series, md, ok := decodeWriteRequestInto(string(body), &a)
		if ok == (n%5 == 4) {
			t.Fatalf("body %d: fast path ok=%v", n, ok)
		}
		if ok {
			all = append(all, decoded{series, md, wr})
		}
	}
	for _, d := range all {
		sameSeries(t, d.series, d.want.Timeseries, d.md, d.want.Metadata)
	}
}

// FuzzDecodeWriteRequest: whatever the fast path accepts, the generated
// decoder decodes to the same series.
func FuzzDecodeWriteRequest(f *testing.F) {
	wr := sampleWriteRequest()
	body, _ := wr.Marshal()
	f.Add(body)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		series, md, ok := decodeWriteRequest(b)
		if !ok {
			return
		}
		var ref prompb.WriteRequest
		if err := ref.Unmarshal(b); err != nil {
			t.Fatalf("fast path accepted what the generated decoder refuses: %v", err)
		}
		sameSeries(t, series, ref.Timeseries, md, ref.Metadata)
	})
}

func BenchmarkDecodeWriteRequest(b *testing.B) {
	wr := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 1000)}
	for i := range wr.Timeseries {
		wr.Timeseries[i] = prompb.TimeSeries{
			Labels: []prompb.Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: "200"},
				{Name: "instance", Value: "10.0.0.1:9100"}, {Name: "job", Value: "api"}, {Name: "method", Value: "GET"},
				{Name: "path", Value: "/api/v1/r"}},
			Samples: []prompb.Sample{{Value: float64(i), Timestamp: 1700000000000}},
		}
	}
	body, _ := wr.Marshal()
	b.SetBytes(int64(len(body)))
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := decodeWriteRequest(body); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var wr prompb.WriteRequest
			if err := wr.Unmarshal(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
