package collector

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/prometheus/prometheus/prompb"
)

// decodeWriteRequestInto decodes the common shape of a remote-write body
// (series of labels and float samples, and metadata) into slices from a,
// with no allocation per series: label strings are substrings of body
// (the batch's copy of its bodies), and series, labels and samples come
// from the batch's arrays. ok is false for anything else (exemplars,
// native histograms, fields it does not know, malformed input): the
// caller then uses the generated decoder, which handles everything and
// reports errors.
func decodeWriteRequestInto(body string, a *wrArena) (series []prompb.TimeSeries, md []prompb.MetricMetadata, ok bool) {
	b := unsafe.Slice(unsafe.StringData(body), len(body)) // only read
	var c wrCounts
	if !c.count(b) {
		return nil, nil, false
	}
	d := wrDecoder{
		b:       b,
		s:       body,
		series:  take(&a.series, c.series),
		labels:  take(&a.labels, c.labels),
		samples: take(&a.samples, c.samples),
	}
	if c.metadata > 0 {
		d.md = make([]prompb.MetricMetadata, 0, c.metadata)
	}
	if !d.decode() {
		return nil, nil, false
	}
	return d.series, d.md, true
}

// wrArena is the memory the WriteRequests of a batch are decoded into;
// see batchMem. Its slices are emptied for each batch and grow by
// doubling, the old arrays left to the series that use them.
type wrArena struct {
	series  []prompb.TimeSeries
	labels  []prompb.Label
	samples []prompb.Sample
}

func (a *wrArena) reset() {
	a.series, a.labels, a.samples = a.series[:0], a.labels[:0], a.samples[:0]
}

// maxKeptLabels bounds the labels a wrArena keeps between batches (16 MiB
// of them, the series of a poll of ~40k series).
const maxKeptLabels = 1 << 18

// trim drops the references of a delivered batch's series into its
// bodies, and arrays grown past the bound.
func (a *wrArena) trim() {
	clear(a.series)
	clear(a.labels)
	if cap(a.labels) > maxKeptLabels {
		*a = wrArena{}
	}
}

// take returns an empty slice with room for n, carved from *a.
func take[T any](a *[]T, n int) []T {
	if cap(*a)-len(*a) < n {
		*a = make([]T, 0, max(2*cap(*a), n))
	}
	start := len(*a)
	*a = (*a)[:start+n]
	return (*a)[start : start : start+n]
}

// field reads one field header at b[i:]: its number, wire type, and for
// length-delimited fields the bounds of its bytes; next is where the
// following field starts.
func field(b []byte, i int) (num uint64, wt uint64, start, end, next int, ok bool) {
	var tag uint64
	if c := b[i]; c < 0x80 { // every tag of these messages is one byte
		tag = uint64(c)
		i++
	} else {
		t, n := binary.Uvarint(b[i:])
		if n <= 0 {
			return 0, 0, 0, 0, 0, false
		}
		tag = t
		i += n
	}
	num, wt = tag>>3, tag&7
	switch wt {
	case 0: // varint
		_, n := binary.Uvarint(b[i:])
		if n <= 0 {
			return 0, 0, 0, 0, 0, false
		}
		return num, wt, i, i + n, i + n, true
	case 1: // fixed64
		if len(b)-i < 8 {
			return 0, 0, 0, 0, 0, false
		}
		return num, wt, i, i + 8, i + 8, true
	case 2: // length-delimited: the length is checked against what is left
		if i < len(b) && b[i] < 0x80 {
			l := int(b[i])
			if l > len(b)-i-1 {
				return 0, 0, 0, 0, 0, false
			}
			return num, wt, i + 1, i + 1 + l, i + 1 + l, true
		}
		l, n := binary.Uvarint(b[i:])
		if n <= 0 || l > uint64(len(b)-i-n) {
			return 0, 0, 0, 0, 0, false
		}
		start = i + n
		return num, wt, start, start + int(l), start + int(l), true
	}
	return 0, 0, 0, 0, 0, false
}

// wrCounts sizes the slices of a body in a first pass.
type wrCounts struct{ series, labels, samples, metadata int }

func (c *wrCounts) count(b []byte) bool {
	for i := 0; i < len(b); {
		num, wt, start, end, next, ok := field(b, i)
		if !ok || wt != 2 {
			return false
		}
		switch num {
		case 1:
			c.series++
			if !c.countSeries(b[start:end]) {
				return false
			}
		case 3:
			c.metadata++
		default:
			return false
		}
		i = next
	}
	return true
}

func (c *wrCounts) countSeries(b []byte) bool {
	for i := 0; i < len(b); {
		num, wt, _, _, next, ok := field(b, i)
		if !ok || wt != 2 {
			return false
		}
		switch num {
		case 1:
			c.labels++
		case 2:
			c.samples++
		default: // exemplars, histograms: the generated decoder's job
			return false
		}
		i = next
	}
	return true
}

// wrDecoder fills the slices the counts sized; slices of one series are
// capped so that an append to one never overwrites the next.
type wrDecoder struct {
	b       []byte // the body, parsed
	s       string // a copy of it, which label strings are substrings of
	series  []prompb.TimeSeries
	labels  []prompb.Label
	samples []prompb.Sample
	md      []prompb.MetricMetadata
}

func (d *wrDecoder) decode() bool {
	b := d.b
	for i := 0; i < len(b); {
		num, _, start, end, next, ok := field(b, i)
		if !ok {
			return false
		}
		if num == 1 {
			if !d.decodeSeries(b, start, end) {
				return false
			}
		} else if !d.decodeMetadata(b, start, end) {
			return false
		}
		i = next
	}
	return true
}

func (d *wrDecoder) decodeSeries(b []byte, from, to int) bool {
	l0, s0 := len(d.labels), len(d.samples)
	for i := from; i < to; {
		// Most labels are the 4 bytes of tags and lengths around a name
		// and a value under 128 bytes each: read without field's calls.
		if ns, ne, next := shortLabel(b, i, to); next > 0 {
			d.labels = append(d.labels, prompb.Label{Name: d.s[ns:ne], Value: d.s[ne+2 : next]})
			i = next
			continue
		}
		num, _, start, end, next, ok := field(b[:to], i)
		if !ok {
			return false
		}
		if num == 1 {
			var l prompb.Label
			for j := start; j < end; {
				n, wt, s, e, nx, ok := field(b[:end], j)
				if !ok || wt != 2 || (n != 1 && n != 2) {
					return false
				}
				if n == 1 {
					l.Name = d.s[s:e]
				} else {
					l.Value = d.s[s:e]
				}
				j = nx
			}
			d.labels = append(d.labels, l)
		} else {
			var smp prompb.Sample
			for j := start; j < end; {
				n, wt, s, e, nx, ok := field(b[:end], j)
				switch {
				case !ok:
					return false
				case n == 1 && wt == 1:
					smp.Value = math.Float64frombits(binary.LittleEndian.Uint64(b[s:e]))
				case n == 2 && wt == 0:
					v, _ := binary.Uvarint(b[s:e])
					smp.Timestamp = int64(v)
				default:
					return false
				}
				j = nx
			}
			d.samples = append(d.samples, smp)
		}
		i = next
	}
	d.series = append(d.series, prompb.TimeSeries{
		Labels:  d.labels[l0:len(d.labels):len(d.labels)],
		Samples: d.samples[s0:len(d.samples):len(d.samples)],
	})
	return true
}

// shortLabel reads the label field at b[i:to] when it is 0a L 0a N name
// 12 V value, each length one byte: the label holds a name and a value
// and nothing else. It returns where the name starts and ends and where
// the field ends (the value ends there, 2 bytes after the name), or a
// zero next for anything else, which is left to field.
func shortLabel(b []byte, i, to int) (ns, ne, next int) {
	if i+6 > to || b[i] != 0x0a || b[i+2] != 0x0a || b[i+1]|b[i+3] >= 0x80 {
		return 0, 0, 0
	}
	next = i + 2 + int(b[i+1])
	ns = i + 4
	ne = ns + int(b[i+3])
	if next > to || ne+2 > next || b[ne] != 0x12 || b[ne+1] >= 0x80 || ne+2+int(b[ne+1]) != next {
		return 0, 0, 0
	}
	return ns, ne, next
}

func (d *wrDecoder) decodeMetadata(b []byte, from, to int) bool {
	var m prompb.MetricMetadata
	for i := from; i < to; {
		num, wt, start, end, next, ok := field(b[:to], i)
		switch {
		case !ok:
			return false
		case num == 1 && wt == 0:
			v, _ := binary.Uvarint(b[start:end])
			m.Type = prompb.MetricMetadata_MetricType(v)
		case num == 2 && wt == 2:
			m.MetricFamilyName = d.s[start:end]
		case num == 4 && wt == 2:
			m.Help = d.s[start:end]
		case num == 5 && wt == 2:
			m.Unit = d.s[start:end]
		default:
			return false
		}
		i = next
	}
	d.md = append(d.md, m)
	return true
}
