package remotewrite

import (
	"bytes"
	"cmp"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/event"
)

// Why a series is dropped before it is sent (the reason label of
// sluice_collector_sink_dropped_total).
const (
	reasonNotMetrics = "not_metrics"         // a log event: counts events
	reasonNoName     = "no_name"             // no __name__ (or an empty one): counts samples
	reasonDuplicate  = "duplicate_label"     // a label name twice: counts samples
	reasonDupTime    = "duplicate_timestamp" // a series' second sample of a timestamp: counts samples
	reason4xx        = "4xx"                 // the receiver refused the request: counts samples
	reasonNotWritten = "not_written"         // v2: a 2xx said fewer were written: counts samples
)

const labelName = "__name__"

// batch is one Write's series, split into shards. It is reused from one
// Write to the next for its capacity only: reset drops every reference
// to the events once the Write is done.
type batch struct {
	shards []shard
	// frags are the events' TimeSeries gathered per series; a series
	// seen in several events has a chain of them.
	frags []fragment
	// labelArena holds the labels of series that had to be normalized;
	// the others point at the events' own labels, which are never changed.
	labelArena []prompb.Label
	// metadata is the events' metadata by metric family name (first
	// wins) and metaList the same in order of appearance (sent by v1).
	metadata map[string]prompb.MetricMetadata
	metaList []prompb.MetricMetadata
	seed     maphash.Seed
	// labelPB holds each series' labels as the protobuf of its
	// TimeSeries' labels field: built once per series, it is what the
	// series is hashed and compared by, and what encodeV1 copies.
	labelPB []byte
	// drops counts what add dropped, by reason.
	dropNotMetrics, dropNoName, dropDuplicate int
}

// fragment is one event's TimeSeries of a series.
type fragment struct {
	ts   *prompb.TimeSeries
	next int32 // the series' next fragment in batch.frags, or -1
}

// series is one series of a Write with its samples from every event.
type series struct {
	labels       []prompb.Label // sorted by name, names unique, no empty values
	labelPB      []byte         // labels as TimeSeries field 1, repeated; see appendLabelsPB
	first, last  int32          // the chain of fragments
	nfrags       int32
	nextSameHash int32 // the shard's next series of the same hash, or -1
	// samples, histograms and exemplars are the fragments' ones sorted
	// by timestamp, set by shard.gather in the shard's goroutine.
	samples    []prompb.Sample
	histograms []prompb.Histogram
	exemplars  []prompb.Exemplar
}

func newBatch(shards int) *batch {
	b := &batch{shards: make([]shard, shards), metadata: map[string]prompb.MetricMetadata{}, seed: maphash.MakeSeed()}
	for i := range b.shards {
		b.shards[i].index = map[uint64]int32{}
	}
	return b
}

// reset forgets the last Write's events, keeping the capacity.
func (b *batch) reset() {
	for i := range b.shards {
		b.shards[i].reset()
	}
	b.frags = reuse(b.frags)
	b.labelArena = reuse(b.labelArena)
	if cap(b.labelPB) > maxKeptBuffer {
		b.labelPB = nil
	}
	b.labelPB = b.labelPB[:0]
	clear(b.metadata)
	b.metaList = reuse(b.metaList)
	b.dropNotMetrics, b.dropNoName, b.dropDuplicate = 0, 0, 0
}

// add splits the events' series into shards, merging the samples of a
// series that several events carry.
func (b *batch) add(events []*event.Event) {
	for _, e := range events {
		if e.Kind != event.KindMetric {
			b.dropNotMetrics++
			continue
		}
		for i := range e.Metadata {
			m := &e.Metadata[i]
			if _, ok := b.metadata[m.MetricFamilyName]; !ok && m.MetricFamilyName != "" {
				b.metadata[m.MetricFamilyName] = *m
				b.metaList = append(b.metaList, *m)
			}
		}
		for i := range e.Series {
			b.addSeries(&e.Series[i])
		}
	}
}

func (b *batch) addSeries(ts *prompb.TimeSeries) {
	n := len(ts.Samples) + len(ts.Histograms)
	if n == 0 {
		return
	}
	start := len(b.labelPB)
	labels := ts.Labels
	var ok bool
	if b.labelPB, ok = appendValidLabelsPB(b.labelPB, labels); !ok {
		b.labelPB = b.labelPB[:start]
		var reason string
		labels, reason = b.normalize(ts.Labels)
		switch reason {
		case reasonNoName:
			b.dropNoName += n
			return
		case reasonDuplicate:
			b.dropDuplicate += n
			return
		}
		b.labelPB = appendLabelsPB(b.labelPB, labels)
	}
	pb := b.labelPB[start:len(b.labelPB):len(b.labelPB)]
	h := maphash.Bytes(b.seed, pb)
	sh := &b.shards[h%uint64(len(b.shards))]
	b.frags = append(b.frags, fragment{ts: ts, next: -1})
	frag := int32(len(b.frags) - 1)
	head, seen := sh.index[h]
	if seen {
		for i := head; i >= 0; i = sh.series[i].nextSameHash {
			if s := &sh.series[i]; bytes.Equal(s.labelPB, pb) {
				b.frags[s.last].next = frag
				s.last = frag
				s.nfrags++
				b.labelPB = b.labelPB[:start]
				return
			}
		}
	} else {
		head = -1
	}
	sh.series = append(sh.series, series{labels: labels, labelPB: pb, first: frag, last: frag, nfrags: 1, nextSameHash: head})
	sh.index[h] = int32(len(sh.series) - 1)
}

// normalize returns the labels as the spec wants them: sorted by name,
// without empty values (an empty value is the same as no label), each
// name once, with a __name__. Labels that already are so are returned
// as they are (the common case, no copy); others are copied into the
// arena. A series with a name twice is dropped rather than guessing
// which value is meant: a receiver would refuse the whole request.
func (b *batch) normalize(ls []prompb.Label) ([]prompb.Label, string) {
	ok, named := true, false
	for i := range ls {
		if ls[i].Value == "" || (i > 0 && !event.LabelNameLess(ls[i-1].Name, ls[i].Name)) {
			ok = false
			break
		}
		named = named || ls[i].Name == labelName
	}
	if ok {
		if !named {
			return nil, reasonNoName
		}
		return ls, ""
	}
	start := len(b.labelArena)
	for _, l := range ls {
		if l.Value != "" {
			b.labelArena = append(b.labelArena, l)
		}
	}
	out := b.labelArena[start:len(b.labelArena):len(b.labelArena)]
	slices.SortFunc(out, func(x, y prompb.Label) int { return strings.Compare(x.Name, y.Name) })
	named = false
	for i := range out {
		if i > 0 && out[i-1].Name == out[i].Name {
			b.labelArena = b.labelArena[:start]
			return nil, reasonDuplicate
		}
		named = named || out[i].Name == labelName
	}
	if !named {
		b.labelArena = b.labelArena[:start]
		return nil, reasonNoName
	}
	return out, ""
}

// labelValue returns the value of the label name in sorted labels.
func labelValue(ls []prompb.Label, name string) string {
	i, ok := slices.BinarySearchFunc(ls, name, func(l prompb.Label, n string) int { return strings.Compare(l.Name, n) })
	if !ok {
		return ""
	}
	return ls[i].Value
}

// shard is the series one sender sends, and that sender's buffers.
type shard struct {
	series []series
	index  map[uint64]int32 // label hash → the last series added with it
	// Arenas for series whose samples had to be merged or sorted; owned
	// by the shard's goroutine during a Write.
	sampleArena   []prompb.Sample
	histArena     []prompb.Histogram
	exemplarArena []prompb.Exemplar
	enc           encoder
}

func (sh *shard) reset() {
	if len(sh.index) > maxKeptElements {
		sh.index = map[uint64]int32{}
	}
	clear(sh.index)
	sh.series = reuse(sh.series)
	sh.sampleArena = reuse(sh.sampleArena)
	sh.histArena = reuse(sh.histArena)
	sh.exemplarArena = reuse(sh.exemplarArena)
	sh.enc.release()
}

// gather sets every series' samples, histograms and exemplars: the
// event's own slices when the series came in one event with strictly
// increasing timestamps (no copy), else the fragments' ones merged into
// the shard's arenas and sorted by timestamp. Of float or histogram
// samples with the same timestamp only the last (of the latest event)
// is kept: receivers refuse a second, different value for a timestamp,
// and would refuse the whole request with it. gather returns how many
// it left out so.
func (sh *shard) gather(frags []fragment) (duplicates int) {
	for i := range sh.series {
		s := &sh.series[i]
		if s.nfrags == 1 {
			ts := frags[s.first].ts
			if increasing(ts.Samples, cmpSample) && increasing(ts.Histograms, cmpHistogram) && slices.IsSortedFunc(ts.Exemplars, cmpExemplar) {
				s.samples, s.histograms, s.exemplars = ts.Samples, ts.Histograms, ts.Exemplars
				continue
			}
		}
		var d1, d2 int
		s.samples, sh.sampleArena, d1 = merge(sh.sampleArena, frags, s.first, func(ts *prompb.TimeSeries) []prompb.Sample { return ts.Samples }, cmpSample, true)
		s.histograms, sh.histArena, d2 = merge(sh.histArena, frags, s.first, func(ts *prompb.TimeSeries) []prompb.Histogram { return ts.Histograms }, cmpHistogram, true)
		s.exemplars, sh.exemplarArena, _ = merge(sh.exemplarArena, frags, s.first, func(ts *prompb.TimeSeries) []prompb.Exemplar { return ts.Exemplars }, cmpExemplar, false)
		duplicates += d1 + d2
	}
	return duplicates
}

// merge appends the slices get returns for a chain of fragments to
// arena and sorts them by time, stable so that equal timestamps keep the
// events' order; with dedup only the last of equal timestamps is kept.
// It returns them, the grown arena, and how many dedup left out.
func merge[T any](arena []T, frags []fragment, first int32, get func(*prompb.TimeSeries) []T, cmp func(a, b T) int, dedup bool) (out, grown []T, dups int) {
	start := len(arena)
	for f := first; f >= 0; f = frags[f].next {
		arena = append(arena, get(frags[f].ts)...)
	}
	if len(arena) == start {
		return nil, arena, 0
	}
	out = arena[start:]
	slices.SortStableFunc(out, cmp)
	if dedup {
		n := 0
		for i := range out {
			if i+1 < len(out) && cmp(out[i], out[i+1]) == 0 {
				continue // the next one has the same timestamp and wins
			}
			out[n] = out[i]
			n++
		}
		dups = len(out) - n
		clear(out[n:])
		out = out[:n]
		arena = arena[:start+n]
	}
	return out[:len(out):len(out)], arena, dups
}

// increasing reports whether the timestamps of xs strictly increase.
func increasing[T any](xs []T, cmp func(a, b T) int) bool {
	for i := 1; i < len(xs); i++ {
		if cmp(xs[i-1], xs[i]) >= 0 {
			return false
		}
	}
	return true
}

func cmpSample(a, b prompb.Sample) int       { return cmp.Compare(a.Timestamp, b.Timestamp) }
func cmpHistogram(a, b prompb.Histogram) int { return cmp.Compare(a.Timestamp, b.Timestamp) }

func cmpExemplar(a, b prompb.Exemplar) int { return cmp.Compare(a.Timestamp, b.Timestamp) }

// maxKeptElements bounds the capacity of a slice kept for the next Write:
// one unusually large batch does not pin its memory for good.
const maxKeptElements = 1 << 20

// reuse returns xs emptied for the next Write, its elements zeroed so
// that it holds no reference to the last Write's events; nil when it
// grew beyond maxKeptElements.
func reuse[T any](xs []T) []T {
	if cap(xs) > maxKeptElements {
		return nil
	}
	clear(xs)
	return xs[:0]
}

// cursor is how far a shard's requests have got through its series.
type cursor struct {
	series, sample, histogram int
}

// chunk is the part of a series that goes in one request.
type chunk struct {
	s          *series
	samples    []prompb.Sample
	histograms []prompb.Histogram
	exemplars  []prompb.Exemplar
}

// counts is how many float and histogram samples a request carries.
type counts struct{ floats, histograms int }

func (c counts) total() int { return c.floats + c.histograms }

// next appends to dst the chunks of the shard's next request, of at most
// max samples, from cur on; a series that does not fit whole is split,
// its first samples in this request and the rest in the next ones (the
// shard sends its requests in order, so the series stays in order).
// Exemplars go with a series' first chunk.
func (sh *shard) next(cur *cursor, max int, dst []chunk) ([]chunk, counts) {
	var n counts
	for cur.series < len(sh.series) && n.total() < max {
		s := &sh.series[cur.series]
		c := chunk{s: s}
		if cur.sample == 0 && cur.histogram == 0 {
			c.exemplars = s.exemplars
		}
		k := min(max-n.total(), len(s.samples)-cur.sample)
		c.samples = s.samples[cur.sample : cur.sample+k]
		cur.sample += k
		n.floats += k
		k = min(max-n.total(), len(s.histograms)-cur.histogram)
		c.histograms = s.histograms[cur.histogram : cur.histogram+k]
		cur.histogram += k
		n.histograms += k
		if cur.sample == len(s.samples) && cur.histogram == len(s.histograms) {
			*cur = cursor{series: cur.series + 1}
		}
		dst = append(dst, c)
	}
	return dst, n
}
