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
	d := wrDecoder{
		b:       unsafe.Slice(unsafe.StringData(body), len(body)), // only read
		s:       body,
		series:  a.series,
		labels:  a.labels,
		samples: a.samples,
		s0:      len(a.series),
	}
	if !d.decode() {
		// What was decoded is left where the next body overwrites it.
		return nil, nil, false
	}
	a.series, a.labels, a.samples = d.series, d.labels, d.samples
	return d.series[d.s0:len(d.series):len(d.series)], d.md, true
}

// wrArena is the memory the WriteRequests of a batch are decoded into;
// see batchMem. Each slice is the current chunk, filled up to its
// length; a full chunk is left to the series that use it and a twice
// larger one started (grow). Nothing sets a label's fields other than
// its name and value.
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

// trim readies a for the next batch once this one is delivered, letting
// go of arrays grown past the bound. The series and labels it keeps
// still point into the delivered batch: into its bodies, which batchMem
// keeps for the next batch anyway, and into the small chunks relabelling
// makes strings in. They are cleared only when the bodies are let go
// (bodiesDropped), so as not to hold those alive; otherwise the next
// batch writes over them (clearing 64 bytes a label every batch was 4%
// of the metrics path).
func (a *wrArena) trim(bodiesDropped bool) {
	if cap(a.labels) > maxKeptLabels {
		*a = wrArena{}
		return
	}
	if bodiesDropped {
		clear(a.series)
		clear(a.labels)
	}
}

// grow returns xs with room for one more element. When its chunk is
// full, a chunk twice as large is started and the elements from keep on
// (those of the series or request being decoded, which must stay in one
// array) are moved into it; keep is then 0.
func grow[T any](xs []T, keep *int) []T {
	if len(xs) < cap(xs) {
		return xs
	}
	n := make([]T, 0, max(2*cap(xs), 256))
	n = append(n, xs[*keep:]...)
	*keep = 0
	return n
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

// wrDecoder appends a body's series, labels and samples to the arena's
// chunks; slices of one series are capped so that an append to one never
// overwrites the next.
type wrDecoder struct {
	b       []byte // the body, parsed
	s       string // a copy of it, which label strings are substrings of
	series  []prompb.TimeSeries
	labels  []prompb.Label
	samples []prompb.Sample
	md      []prompb.MetricMetadata
	s0      int // where the body's series start in series
}

func (d *wrDecoder) decode() bool {
	b := d.b
	for i := 0; i < len(b); {
		num, wt, start, end, next, ok := field(b, i)
		switch {
		case !ok || wt != 2:
			return false
		case num == 1:
			if !d.decodeSeries(b, start, end) {
				return false
			}
		case num == 3:
			if !d.decodeMetadata(b, start, end) {
				return false
			}
		default:
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
			// Only the name and the value are written: the arena's
			// labels have no other field set (see wrArena).
			d.labels = grow(d.labels, &l0)
			d.labels = d.labels[:len(d.labels)+1]
			l := &d.labels[len(d.labels)-1]
			l.Name, l.Value = d.s[ns:ne], d.s[ne+2:next]
			i = next
			continue
		}
		if smp, next := shortSample(b, i, to); next > 0 {
			d.samples = grow(d.samples, &s0)
			d.samples = append(d.samples, smp)
			i = next
			continue
		}
		num, wt, start, end, next, ok := field(b[:to], i)
		switch {
		case !ok || wt != 2:
			return false
		case num == 1:
			l, ok := d.decodeLabel(b, start, end)
			if !ok {
				return false
			}
			d.labels = grow(d.labels, &l0)
			d.labels = append(d.labels, l)
		case num == 2:
			smp, ok := decodeSample(b, start, end)
			if !ok {
				return false
			}
			d.samples = grow(d.samples, &s0)
			d.samples = append(d.samples, smp)
		default: // exemplars, histograms: the generated decoder's job
			return false
		}
		i = next
	}
	d.series = grow(d.series, &d.s0)
	d.series = append(d.series, prompb.TimeSeries{
		Labels:  d.labels[l0:len(d.labels):len(d.labels)],
		Samples: d.samples[s0:len(d.samples):len(d.samples)],
	})
	return true
}

func (d *wrDecoder) decodeLabel(b []byte, from, to int) (l prompb.Label, ok bool) {
	for j := from; j < to; {
		n, wt, s, e, nx, ok := field(b[:to], j)
		if !ok || wt != 2 || (n != 1 && n != 2) {
			return l, false
		}
		if n == 1 {
			l.Name = d.s[s:e]
		} else {
			l.Value = d.s[s:e]
		}
		j = nx
	}
	return l, true
}

func decodeSample(b []byte, from, to int) (smp prompb.Sample, ok bool) {
	for j := from; j < to; {
		n, wt, s, e, nx, ok := field(b[:to], j)
		switch {
		case !ok:
			return smp, false
		case n == 1 && wt == 1:
			smp.Value = math.Float64frombits(binary.LittleEndian.Uint64(b[s:e]))
		case n == 2 && wt == 0:
			v, _ := binary.Uvarint(b[s:e])
			smp.Timestamp = int64(v)
		default:
			return smp, false
		}
		j = nx
	}
	return smp, true
}

// shortSample reads the sample field at b[i:to] when it is 12 L 09
// value(8 bytes) 10 timestamp(varint), L under 128: a value and a
// timestamp, in that order, and nothing else. It returns the sample and
// where the field ends, or a zero next for anything else.
func shortSample(b []byte, i, to int) (smp prompb.Sample, next int) {
	if i+13 > to || b[i] != 0x12 || b[i+2] != 0x09 || b[i+11] != 0x10 || b[i+1] >= 0x80 {
		return smp, 0
	}
	next = i + 2 + int(b[i+1])
	if next > to || next < i+13 {
		return smp, 0
	}
	ts, n := binary.Uvarint(b[i+12 : next])
	if n != next-i-12 {
		return smp, 0
	}
	return prompb.Sample{Value: math.Float64frombits(binary.LittleEndian.Uint64(b[i+3:])), Timestamp: int64(ts)}, next
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
