package hostmetrics

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/prometheus/prompb"
)

// maxInterned bounds the string table; beyond it the table starts over,
// so hosts whose devices or mounts churn (containers, loop devices) do
// not grow it forever.
const maxInterned = 4096

// builder accumulates the series of one pass. Its slices are reused from
// pass to pass: a pass allocates only when it produces more series or new
// label values than any pass before.
type builder struct {
	ts       int64 // milliseconds, shared by every sample of the pass
	job      string
	instance string

	series  []prompb.TimeSeries
	labels  []prompb.Label  // backing store of every series' labels
	samples []prompb.Sample // backing store of every series' sample
	fields  [][]byte        // scratch for splitFields

	strs map[string]string // label values made from file bytes
	// meminfo field to metric name, for fields with and without a unit
	memBytes, memPlain map[string]string
}

func newBuilder(job, instance string) *builder {
	return &builder{
		job: job, instance: instance,
		strs:     make(map[string]string),
		memBytes: make(map[string]string),
		memPlain: make(map[string]string),
	}
}

// reset starts a pass at ts, in milliseconds.
func (b *builder) reset(ts int64) {
	b.ts = ts
	b.series = b.series[:0]
	b.labels = b.labels[:0]
	b.samples = b.samples[:0]
}

// mark and rollback drop what a collector added before it failed, so a
// pass never carries half of a garbled file.
type mark struct{ series, labels, samples int }

func (b *builder) mark() mark {
	return mark{len(b.series), len(b.labels), len(b.samples)}
}

func (b *builder) rollback(m mark) {
	b.series = b.series[:m.series]
	b.labels = b.labels[:m.labels]
	b.samples = b.samples[:m.samples]
}

// add appends the series name{kv..., job, instance} = v. kv holds label
// names and values in pairs; pairs with an empty value are left out, as
// Prometheus treats an empty label as an absent one.
func (b *builder) add(name string, v float64, kv ...string) {
	start := len(b.labels)
	b.labels = append(b.labels, prompb.Label{Name: "__name__", Value: name})
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			b.labels = append(b.labels, prompb.Label{Name: kv[i], Value: kv[i+1]})
		}
	}
	b.labels = append(b.labels,
		prompb.Label{Name: "instance", Value: b.instance},
		prompb.Label{Name: "job", Value: b.job})
	ls := b.labels[start:len(b.labels):len(b.labels)]
	sortLabels(ls)
	b.samples = append(b.samples, prompb.Sample{Value: v, Timestamp: b.ts})
	n := len(b.samples)
	b.series = append(b.series, prompb.TimeSeries{Labels: ls, Samples: b.samples[n-1 : n : n]})
}

// sortLabels sorts by name: series have a handful of labels, for which an
// insertion sort is fastest and allocates nothing.
func sortLabels(ls []prompb.Label) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Name < ls[j-1].Name; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// str returns b as a string, allocating only the first time a value is
// seen. Invalid UTF-8 is replaced, as Prometheus rejects it.
func (b *builder) str(v []byte) string {
	if s, ok := b.strs[string(v)]; ok {
		return s
	}
	if len(b.strs) >= maxInterned {
		clear(b.strs)
	}
	s := string(v)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	b.strs[string(v)] = s
	return s
}
