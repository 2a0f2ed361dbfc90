package remotewrite

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"

	"github.com/klauspost/compress/s2"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/sluicehq/sluice/pipelines/event"
)

// maxKeptBuffer is the largest encoding buffer a shard keeps for the next
// Write; a larger one (a request of unusually long labels) is let go.
const maxKeptBuffer = 8 << 20

// encoder turns a request's chunks into a snappy-compressed protobuf
// body. Each shard has one, used by its goroutine only; every buffer is
// reused from request to request, so a steady stream of requests
// allocates nothing here.
type encoder struct {
	chunks []chunk
	v2     writev2.Request
	// symbols and symbolList are the v2 request's symbols table:
	// symbolList[0] is "" as the spec wants.
	symbols    map[string]uint32
	symbolList []string
	refs       []uint32
	samples    []writev2.Sample
	histograms []writev2.Histogram
	exemplars  []writev2.Exemplar
	pb, snappy []byte
}

// encodeV1 returns the body of a prometheus.WriteRequest holding chunks
// and metadata. It writes the protobuf itself, the bytes gogo's Marshal
// writes (the fuzz test checks that): each series' labels are copied as
// encoded once per Write (series.labelPB), where Marshal would size and
// write every label of every request again.
func (e *encoder) encodeV1(chunks []chunk, metadata []prompb.MetricMetadata) ([]byte, error) {
	buf := e.pb[:0]
	for i := range chunks {
		buf = appendSeriesPB(buf, &chunks[i])
	}
	for i := range metadata {
		buf = appendMessage(buf, 0x1a, &metadata[i])
	}
	e.pb = buf
	return e.compress(buf), nil
}

// appendLabelsPB appends labels as a TimeSeries' repeated field 1, as
// gogo writes them: lengths of any size, an empty name or value left
// out. Labels as the spec wants them take appendValidLabelsPB's way.
func appendLabelsPB(dst []byte, labels []prompb.Label) []byte {
	for i := range labels {
		name, value := labels[i].Name, labels[i].Value
		n := 0
		if name != "" {
			n += 1 + varintLen(uint64(len(name))) + len(name)
		}
		if value != "" {
			n += 1 + varintLen(uint64(len(value))) + len(value)
		}
		dst = binary.AppendUvarint(append(dst, 0x0a), uint64(n))
		if name != "" {
			dst = append(binary.AppendUvarint(append(dst, 0x0a), uint64(len(name))), name...)
		}
		if value != "" {
			dst = append(binary.AppendUvarint(append(dst, 0x12), uint64(len(value))), value...)
		}
	}
	return dst
}

// appendValidLabelsPB is appendLabelsPB for labels as the spec wants
// them (see normalize) with a name and a value of under 124 bytes
// together, which most are: each label's field is then 0a L 0a N name
// 12 V value, written in one go. It checks the labels as it encodes
// them, and reports false, having written part of them, for any others.
func appendValidLabelsPB(dst []byte, labels []prompb.Label) ([]byte, bool) {
	named := false
	for i := range labels {
		l := &labels[i] // not a copy: a prompb.Label is 64 bytes
		n, v := len(l.Name), len(l.Value)
		if v == 0 || n == 0 || n+v >= 124 || (i > 0 && !event.LabelNameLess(labels[i-1].Name, l.Name)) {
			return dst, false
		}
		named = named || l.Name == labelName
		dst = append(dst, 0x0a, byte(n+v+4), 0x0a, byte(n))
		dst = append(dst, l.Name...)
		dst = append(dst, 0x12, byte(v))
		dst = append(dst, l.Value...)
	}
	return dst, named
}

// appendSeriesPB appends a chunk as a WriteRequest's field 1.
func appendSeriesPB(dst []byte, c *chunk) []byte {
	n := len(c.s.labelPB)
	for _, smp := range c.samples {
		k := sampleLen(smp)
		n += 1 + varintLen(uint64(k)) + k
	}
	for i := range c.exemplars {
		k := c.exemplars[i].Size()
		n += 1 + varintLen(uint64(k)) + k
	}
	for i := range c.histograms {
		k := c.histograms[i].Size()
		n += 1 + varintLen(uint64(k)) + k
	}
	dst = binary.AppendUvarint(append(dst, 0x0a), uint64(n))
	dst = append(dst, c.s.labelPB...)
	for _, smp := range c.samples {
		dst = binary.AppendUvarint(append(dst, 0x12), uint64(sampleLen(smp)))
		// As gogo does, a zero value or timestamp is left out (so -0 is
		// sent as 0).
		if smp.Value != 0 {
			dst = binary.LittleEndian.AppendUint64(append(dst, 0x09), math.Float64bits(smp.Value))
		}
		if smp.Timestamp != 0 {
			dst = binary.AppendUvarint(append(dst, 0x10), uint64(smp.Timestamp))
		}
	}
	for i := range c.exemplars {
		dst = appendMessage(dst, 0x1a, &c.exemplars[i])
	}
	for i := range c.histograms {
		dst = appendMessage(dst, 0x22, &c.histograms[i])
	}
	return dst
}

// sampleLen is the length of a Sample's protobuf.
func sampleLen(s prompb.Sample) int {
	n := 0
	if s.Value != 0 {
		n += 9
	}
	if s.Timestamp != 0 {
		n += 1 + varintLen(uint64(s.Timestamp))
	}
	return n
}

// gogoMessage is a message gogo's generated code marshals.
type gogoMessage interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// appendMessage appends m as a length-delimited field of tag, marshalled
// by its generated code: exemplars, histograms and metadata are few next
// to samples. Their marshalling cannot fail when sized by Size.
func appendMessage(dst []byte, tag byte, m gogoMessage) []byte {
	k := m.Size()
	dst = binary.AppendUvarint(append(dst, tag), uint64(k))
	dst = slices.Grow(dst, k)
	_, _ = m.MarshalToSizedBuffer(dst[len(dst) : len(dst)+k])
	return dst[:len(dst)+k]
}

func varintLen(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}

// encodeV2 returns the body of an io.prometheus.write.v2.Request holding
// chunks, each series with the metadata of its metric family. A chunk
// with both float and histogram samples becomes two series, as the spec
// wants.
func (e *encoder) encodeV2(chunks []chunk, metadata map[string]prompb.MetricMetadata) ([]byte, error) {
	e.resetSymbols()
	e.refs, e.samples, e.histograms, e.exemplars = e.refs[:0], e.samples[:0], e.histograms[:0], e.exemplars[:0]
	ts := e.v2.Timeseries[:0]
	for _, c := range chunks {
		start := len(e.refs)
		for _, l := range c.s.labels {
			e.refs = append(e.refs, e.symbol(l.Name), e.symbol(l.Value))
		}
		refs := e.refs[start:len(e.refs):len(e.refs)]
		md := e.metadataV2(c.s.labels, metadata)
		exemplars := e.exemplarsV2(c.exemplars)
		if len(c.samples) > 0 {
			ts = append(ts, writev2.TimeSeries{LabelsRefs: refs, Samples: e.samplesV2(c.samples), Exemplars: exemplars, Metadata: md})
			exemplars = nil
		}
		if len(c.histograms) > 0 {
			ts = append(ts, writev2.TimeSeries{LabelsRefs: refs, Histograms: e.histogramsV2(c.histograms), Exemplars: exemplars, Metadata: md})
		}
	}
	e.v2.Symbols, e.v2.Timeseries = e.symbolList, ts
	pb, err := e.v2.OptimizedMarshal(e.pb)
	if err != nil {
		return nil, fmt.Errorf("marshal v2 write request: %w", err)
	}
	e.pb = pb
	return e.compress(pb), nil
}

func (e *encoder) resetSymbols() {
	if e.symbols == nil {
		e.symbols = map[string]uint32{}
	}
	clear(e.symbols)
	e.symbols[""] = 0
	clear(e.symbolList)
	e.symbolList = append(e.symbolList[:0], "")
}

func (e *encoder) symbol(s string) uint32 {
	if ref, ok := e.symbols[s]; ok {
		return ref
	}
	ref := uint32(len(e.symbolList))
	e.symbolList = append(e.symbolList, s)
	e.symbols[s] = ref
	return ref
}

func (e *encoder) samplesV2(in []prompb.Sample) []writev2.Sample {
	start := len(e.samples)
	for _, s := range in {
		e.samples = append(e.samples, writev2.Sample{Value: s.Value, Timestamp: s.Timestamp})
	}
	return e.samples[start:len(e.samples):len(e.samples)]
}

// histogramsV2 converts native histograms through the model type: they
// are rare next to float samples, so the allocations do not matter.
func (e *encoder) histogramsV2(in []prompb.Histogram) []writev2.Histogram {
	start := len(e.histograms)
	for i := range in {
		h := &in[i]
		if h.IsFloatHistogram() {
			e.histograms = append(e.histograms, writev2.FromFloatHistogram(0, h.Timestamp, h.ToFloatHistogram()))
		} else {
			e.histograms = append(e.histograms, writev2.FromIntHistogram(0, h.Timestamp, h.ToIntHistogram()))
		}
	}
	return e.histograms[start:len(e.histograms):len(e.histograms)]
}

func (e *encoder) exemplarsV2(in []prompb.Exemplar) []writev2.Exemplar {
	if len(in) == 0 {
		return nil
	}
	start := len(e.exemplars)
	for _, x := range in {
		refStart := len(e.refs)
		for _, l := range x.Labels {
			e.refs = append(e.refs, e.symbol(l.Name), e.symbol(l.Value))
		}
		refs := e.refs[refStart:len(e.refs):len(e.refs)]
		e.exemplars = append(e.exemplars, writev2.Exemplar{LabelsRefs: refs, Value: x.Value, Timestamp: x.Timestamp})
	}
	return e.exemplars[start:len(e.exemplars):len(e.exemplars)]
}

// familySuffixes are what a series name may add to its family's name:
// histogram and summary parts, and OpenMetrics counters and infos.
var familySuffixes = []string{"_bucket", "_count", "_sum", "_total", "_created", "_info", "_gcount", "_gsum"}

// metadataV2 returns the metadata of the series' metric family: the one
// named as the series, else the one named as the series without a
// suffix of familySuffixes; none is the zero Metadata (type unspecified).
func (e *encoder) metadataV2(labels []prompb.Label, metadata map[string]prompb.MetricMetadata) writev2.Metadata {
	if len(metadata) == 0 {
		return writev2.Metadata{}
	}
	name := labelValue(labels, labelName)
	m, ok := metadata[name]
	for i := 0; !ok && i < len(familySuffixes); i++ {
		if family, cut := strings.CutSuffix(name, familySuffixes[i]); cut {
			m, ok = metadata[family]
		}
	}
	if !ok {
		return writev2.Metadata{}
	}
	// The two enums number the types alike (UNKNOWN is UNSPECIFIED).
	return writev2.Metadata{Type: writev2.Metadata_MetricType(m.Type), HelpRef: e.symbol(m.Help), UnitRef: e.symbol(m.Unit)}
}

// compress snappy-encodes pb (block format, not framed) into the
// encoder's buffer. s2's snappy-compatible encoder does it in about half
// the time of golang/snappy's, at a similar size.
func (e *encoder) compress(pb []byte) []byte {
	n := s2.MaxEncodedLen(len(pb))
	if cap(e.snappy) < n {
		e.snappy = make([]byte, n)
	}
	return s2.EncodeSnappy(e.snappy[:n], pb)
}

// release drops the references to the Write's events and buffers grown
// too large to keep.
func (e *encoder) release() {
	e.chunks = reuse(e.chunks)
	e.v2.Timeseries, e.v2.Symbols = reuse(e.v2.Timeseries), nil
	clear(e.symbols)
	e.symbolList = reuse(e.symbolList)
	e.refs, e.samples = reuse(e.refs), reuse(e.samples)
	e.histograms, e.exemplars = reuse(e.histograms), reuse(e.exemplars)
	if cap(e.pb) > maxKeptBuffer {
		e.pb = nil
	}
	if cap(e.snappy) > maxKeptBuffer {
		e.snappy = nil
	}
}
