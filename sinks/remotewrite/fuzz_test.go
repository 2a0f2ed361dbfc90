package remotewrite

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/sluicehq/sluice/pipelines/event"
)

// parseFuzzEvents reads events from lines "k=v,k=v|t:v t:v"; a blank
// line starts a new event. Whatever does not parse is left out.
func parseFuzzEvents(spec string) (events []*event.Event, nSamples int) {
	e := &event.Event{Kind: event.KindMetric}
	for line := range strings.SplitSeq(spec, "\n") {
		if line == "" {
			events = append(events, e)
			e = &event.Event{Kind: event.KindMetric}
			continue
		}
		ls, ss, _ := strings.Cut(line, "|")
		var ts prompb.TimeSeries
		for kv := range strings.SplitSeq(ls, ",") {
			k, v, _ := strings.Cut(kv, "=")
			ts.Labels = append(ts.Labels, prompb.Label{Name: k, Value: v})
		}
		for tv := range strings.FieldsSeq(ss) {
			t, v, _ := strings.Cut(tv, ":")
			ti, err1 := strconv.ParseInt(t, 10, 64)
			vf, err2 := strconv.ParseFloat(v, 64)
			if err1 == nil && err2 == nil {
				ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: ti, Value: vf})
			}
		}
		nSamples += len(ts.Samples)
		e.Series = append(e.Series, ts)
	}
	return append(events, e), nSamples
}

// FuzzEncode checks, for any events, that what the shards would send is
// valid for the spec (labels sorted, unique, non-empty, with __name__;
// v2 references inside the symbols table) and that every series'
// samples come in strictly increasing time across requests, and that
// every sample is either sent or counted as dropped.
func FuzzEncode(f *testing.F) {
	f.Add("__name__=up,job=a|1:1 2:0\n\n__name__=up,job=a|3:1", uint8(1), uint8(1), false)
	f.Add("job=x,__name__=m,a=|5:1 4:2 4:3\n__name__=m,a=1,a=2|1:1\njob=y|1:1", uint8(3), uint8(2), true)
	f.Add("__name__=a|1:1 2:2 3:3 4:4\n__name__=b|1:NaN\n\n__name__=a|0:1", uint8(2), uint8(4), false)
	f.Fuzz(func(t *testing.T, spec string, maxSamples, shards uint8, v2 bool) {
		if len(spec) > 4096 {
			return
		}
		events, in := parseFuzzEvents(spec)
		b := newBatch(int(shards%8) + 1)
		b.add(events)
		max := int(maxSamples%16) + 1
		sent, dropped := 0, b.dropNoName+b.dropDuplicate
		last := map[string]int64{}
		for i := range b.shards {
			sh := &b.shards[i]
			dropped += sh.gather(b.frags)
			var cur cursor
			for {
				var n counts
				sh.enc.chunks, n = sh.next(&cur, max, sh.enc.chunks[:0])
				if n.total() == 0 {
					break
				}
				if n.total() > max {
					t.Fatalf("request of %d samples, max %d", n.total(), max)
				}
				var series []prompb.TimeSeries
				if v2 {
					body, err := sh.enc.encodeV2(sh.enc.chunks, b.metadata)
					if err != nil {
						t.Fatal(err)
					}
					series = decodeV2(t, body)
				} else {
					body, err := sh.enc.encodeV1(sh.enc.chunks, nil)
					if err != nil {
						t.Fatal(err)
					}
					series = decodeV1(t, body)
					if want := gogoV1(t, sh.enc.chunks, nil); !bytes.Equal(sh.enc.pb, want) {
						t.Fatalf("encodeV1 wrote\n%x\ngogo's Marshal\n%x", sh.enc.pb, want)
					}
				}
				for _, ts := range series {
					key := checkLabels(t, ts.Labels)
					for _, s := range ts.Samples {
						if l, ok := last[key]; ok && s.Timestamp <= l {
							t.Fatalf("series %s: sample at %d after %d", key, s.Timestamp, l)
						}
						last[key] = s.Timestamp
						sent++
					}
				}
			}
		}
		if sent+dropped != in {
			t.Fatalf("%d samples in, %d sent and %d dropped", in, sent, dropped)
		}
		b.reset()
	})
}

// checkLabels fails unless ls are as the spec wants; it returns them as
// one string.
func checkLabels(t *testing.T, ls []prompb.Label) string {
	named := false
	var key strings.Builder
	for i, l := range ls {
		if l.Value == "" || (i > 0 && ls[i-1].Name >= l.Name) {
			t.Fatalf("labels not sorted, unique and non-empty: %v", ls)
		}
		named = named || l.Name == labelName
		key.WriteString(strconv.Quote(l.Name) + "=" + strconv.Quote(l.Value) + ",")
	}
	if !named {
		t.Fatalf("labels without __name__: %v", ls)
	}
	return key.String()
}

// gogoV1 is what gogo's Marshal writes for the request encodeV1 encodes.
func gogoV1(t *testing.T, chunks []chunk, metadata []prompb.MetricMetadata) []byte {
	req := prompb.WriteRequest{Metadata: metadata}
	for _, c := range chunks {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: c.s.labels, Samples: c.samples, Exemplars: c.exemplars, Histograms: c.histograms})
	}
	pb, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

func decodeV1(t *testing.T, body []byte) []prompb.TimeSeries {
	pb, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(pb); err != nil {
		t.Fatal(err)
	}
	return req.Timeseries
}

func decodeV2(t *testing.T, body []byte) []prompb.TimeSeries {
	pb, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	var req writev2.Request
	if err := req.Unmarshal(pb); err != nil {
		t.Fatal(err)
	}
	if len(req.Symbols) == 0 || req.Symbols[0] != "" {
		t.Fatalf("symbols table does not start with \"\": %q", req.Symbols)
	}
	var out []prompb.TimeSeries
	for _, ts := range req.Timeseries {
		if len(ts.LabelsRefs)%2 != 0 || (len(ts.Samples) > 0) == (len(ts.Histograms) > 0) {
			t.Fatalf("bad v2 series %+v", ts)
		}
		var p prompb.TimeSeries
		for i := 0; i < len(ts.LabelsRefs); i += 2 {
			n, v := ts.LabelsRefs[i], ts.LabelsRefs[i+1]
			if int(n) >= len(req.Symbols) || int(v) >= len(req.Symbols) {
				t.Fatalf("label refs %d, %d outside %d symbols", n, v, len(req.Symbols))
			}
			p.Labels = append(p.Labels, prompb.Label{Name: req.Symbols[n], Value: req.Symbols[v]})
		}
		for _, s := range ts.Samples {
			p.Samples = append(p.Samples, prompb.Sample{Timestamp: s.Timestamp, Value: s.Value})
		}
		out = append(out, p)
	}
	return out
}
