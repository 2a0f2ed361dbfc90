package remotewrite

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/event"
)

// TestEncodeV1MatchesGogo checks that encodeV1 writes the bytes gogo's
// Marshal writes, for the parts FuzzEncode does not reach: exemplars,
// native histograms, metadata, lengths of more than one varint byte,
// zero and negative values and timestamps, staleness markers.
func TestEncodeV1MatchesGogo(t *testing.T) {
	long := strings.Repeat("x", 300)
	stale := math.Float64frombits(0x7ff0000000000002)
	cases := map[string][]prompb.TimeSeries{
		"plain": {{Labels: []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "a"}},
			Samples: []prompb.Sample{{Timestamp: 1, Value: 1}, {Timestamp: 2, Value: 0}}}},
		"zero and negative": {{Labels: []prompb.Label{{Name: "__name__", Value: "m"}},
			Samples: []prompb.Sample{{Timestamp: -5, Value: -1.5}, {Timestamp: 0, Value: math.Copysign(0, -1)}, {Timestamp: 7, Value: stale}}}},
		"long labels": {{Labels: []prompb.Label{{Name: "__name__", Value: long}, {Name: long, Value: long + long}},
			Samples: []prompb.Sample{{Timestamp: math.MaxInt64, Value: math.Inf(1)}}}},
		"lengths at a varint's byte": {{Labels: []prompb.Label{{Name: "__name__", Value: strings.Repeat("y", 123-8)},
			{Name: "b", Value: strings.Repeat("z", 123)}, {Name: "c", Value: strings.Repeat("z", 127)}},
			Samples: []prompb.Sample{{Timestamp: 1, Value: 1}}}},
		"empty name": {{Labels: []prompb.Label{{Name: "", Value: "v"}, {Name: "__name__", Value: "m"}},
			Samples: []prompb.Sample{{Timestamp: 1, Value: 2}}}},
		"exemplars and histograms": {{Labels: []prompb.Label{{Name: "__name__", Value: "h"}},
			Samples:   []prompb.Sample{{Timestamp: 1, Value: 2}},
			Exemplars: []prompb.Exemplar{{Labels: []prompb.Label{{Name: "trace_id", Value: "abc"}}, Value: 0.5, Timestamp: 1}},
			Histograms: []prompb.Histogram{{Count: &prompb.Histogram_CountInt{CountInt: 3}, Sum: 1.5, Schema: 1,
				ZeroCount: &prompb.Histogram_ZeroCountInt{ZeroCountInt: 1}, PositiveSpans: []prompb.BucketSpan{{Offset: 0, Length: 2}},
				PositiveDeltas: []int64{1, 1}, Timestamp: 2}}}},
	}
	metadata := []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "up", Help: long, Unit: "s"}}
	for name, series := range cases {
		t.Run(name, func(t *testing.T) {
			b := newBatch(1)
			b.add([]*event.Event{{Kind: event.KindMetric, Series: series}})
			sh := &b.shards[0]
			if d := sh.gather(b.frags); d != 0 {
				t.Fatalf("%d samples dropped", d)
			}
			var cur cursor
			sh.enc.chunks, _ = sh.next(&cur, 1000, sh.enc.chunks[:0])
			for _, md := range [][]prompb.MetricMetadata{nil, metadata} {
				body, err := sh.enc.encodeV1(sh.enc.chunks, md)
				if err != nil {
					t.Fatal(err)
				}
				if want := gogoV1(t, sh.enc.chunks, md); !bytes.Equal(sh.enc.pb, want) {
					t.Fatalf("encodeV1 wrote\n%x\ngogo's Marshal\n%x", sh.enc.pb, want)
				}
				if got := decodeV1(t, body); len(got) != len(series) {
					t.Fatalf("decoded %d series, want %d", len(got), len(series))
				}
			}
		})
	}
}
