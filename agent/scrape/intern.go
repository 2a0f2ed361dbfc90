package scrape

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
)

// labelStore keeps the final labels of one loop's cached series,
// interned. Each distinct label pair is stored once, encoded as it
// appears inside a TimeSeries, and a series is the uvarint ids of its
// pairs: a target's series share most of their pairs (job, instance,
// pod, a few metric names, methods and codes), so a series costs about
// a byte per label instead of its ~130 encoded bytes, with 100 loops of
// 1,000 series each.
//
// A series is known by (off, n): its ids start at ids[off], and n is the
// length of its encoded labels, which the TimeSeries length prefix needs
// anyway. No pair is empty, so expanding ids until n bytes were written
// finds the end of the series without storing where it ends.
type labelStore struct {
	// pairs holds the encoded Label fields (0x0a len Label{0x0a name,
	// 0x12 value}); pair i is pairs[offs[i]:offs[i+1]].
	pairs []byte
	offs  []uint32
	// index finds a pair's id by a hash of its bytes; on a collision
	// between two different pairs the later one takes the next key. Only
	// remembering a new series looks pairs up; it is pointer-free so the
	// GC never scans it.
	index map[uint64]uint32
	ids   []byte // uvarint pair ids of the series, one series after the other
	holes int    // bytes of ids left behind by forgotten series
	// base is the number of pairs after the last compaction: pairs of
	// forgotten series are only dropped by compaction, so a table that
	// grew well past it may be mostly dead (label values that churn).
	base    int
	seed    maphash.Seed
	scratch []byte // the pair being looked up
}

func newLabelStore() labelStore {
	return labelStore{offs: []uint32{0}, index: make(map[uint64]uint32), seed: maphash.MakeSeed()}
}

func (s *labelStore) npairs() int { return len(s.offs) - 1 }

func (s *labelStore) pair(id uint32) []byte { return s.pairs[s.offs[id]:s.offs[id+1]] }

// intern stores the series ls (empty values skipped, as encodeLabels
// does) and returns where its ids are and the length of its labels.
func (s *labelStore) intern(ls labels.Labels) (off, n uint32) {
	off = uint32(len(s.ids))
	ls.Range(func(lb labels.Label) {
		if lb.Value == "" {
			return
		}
		s.scratch = appendLabel(s.scratch[:0], lb)
		s.ids = binary.AppendUvarint(s.ids, uint64(s.pairID(s.scratch)))
		n += uint32(len(s.scratch))
	})
	return off, n
}

// pairID returns the id of the encoded pair p, adding it if it is new.
func (s *labelStore) pairID(p []byte) uint32 {
	h := maphash.Bytes(s.seed, p)
	for {
		id, ok := s.index[h]
		if !ok {
			break
		}
		if bytes.Equal(s.pair(id), p) {
			return id
		}
		h++
	}
	id := uint32(s.npairs())
	s.index[h] = id
	s.appendPair(p)
	return id
}

// next decodes the pair id at the start of ids.
func next(ids []byte) (uint32, []byte) {
	if ids[0] < 0x80 {
		return uint32(ids[0]), ids[1:]
	}
	return nextLong(ids)
}

// nextLong is next for ids of 128 and more, apart so next inlines.
func nextLong(ids []byte) (uint32, []byte) {
	x, k := binary.Uvarint(ids)
	return uint32(x), ids[k:]
}

// idAt decodes the id of 128 or more at ids[j], and returns the index
// after it. Inlined, it would crowd appendLabels' loop out of registers.
//
//go:noinline
func idAt(ids []byte, j int) (uint32, int) {
	x, k := binary.Uvarint(ids[j:])
	return uint32(x), j + k
}

// pad is the spare capacity pairs keeps, and appendLabels wants in b:
// a pair of up to pad bytes is copied as four 8-byte moves rather than
// by a call to memmove, the bytes past its end to be overwritten.
const pad = 32

// appendLabels appends the n bytes of encoded labels of the series whose
// ids start at off. It is on the path of every sample: one id read and
// one copy per label, the common cases written out by hand because the
// compiler would not inline them.
func (s *labelStore) appendLabels(b []byte, off, n uint32) []byte {
	i, end := len(b), len(b)+int(n)
	b = slices.Grow(b, int(n)+pad)
	out := b[:cap(b)]
	ids, pairs, offs := s.ids[off:], s.pairs[:cap(s.pairs)], s.offs
	for j := 0; i < end; {
		id := uint32(ids[j])
		if id < 0x80 {
			j++
		} else {
			id, j = idAt(ids, j)
		}
		from, to := int(offs[id]), int(offs[id+1])
		if to-from <= pad && from+pad <= len(pairs) && i+pad <= len(out) {
			src, dst := pairs[from:from+pad], out[i:i+pad]
			le.PutUint64(dst[0:], le.Uint64(src[0:]))
			le.PutUint64(dst[8:], le.Uint64(src[8:]))
			le.PutUint64(dst[16:], le.Uint64(src[16:]))
			le.PutUint64(dst[24:], le.Uint64(src[24:]))
			i += to - from
		} else {
			i += copy(out[i:], pairs[from:to])
		}
	}
	return b[:end]
}

var le = binary.LittleEndian

// forget counts the ids of a series the loop dropped from its cache as
// holes.
func (s *labelStore) forget(off, n uint32) {
	ids := s.ids[off:]
	rest := ids
	var id uint32
	for left := int(n); left > 0; left -= int(s.offs[id+1] - s.offs[id]) {
		id, rest = next(rest)
	}
	s.holes += len(ids) - len(rest)
}

// needsCompact says whether forgotten series left many holes or dead
// pairs, or appending left much unused capacity (after the first scrape,
// typically).
func (s *labelStore) needsCompact() bool {
	return s.holes > 0 && s.holes > len(s.ids)/2 ||
		s.npairs() > 2*s.base+64 ||
		cap(s.ids) > len(s.ids)+len(s.ids)/4+4096 ||
		cap(s.pairs) > len(s.pairs)+len(s.pairs)/4+pad+4096
}

// compact rebuilds the store from the series of cache, which it updates:
// pairs no series refers to any more are dropped, and the others are
// renumbered in their old order, so a target whose label values churn
// keeps bounded memory.
func (s *labelStore) compact(cache map[uint64]cacheEntry) {
	refs := make([]uint32, s.npairs()) // then the new id of each live pair
	for _, ent := range cache {
		ids := s.ids[ent.off:]
		var id uint32
		for left := int(ent.n); left > 0; left -= len(s.pair(id)) {
			id, ids = next(ids)
			refs[id]++
		}
	}
	live, pairBytes, idBytes := 0, 0, 0
	for id, r := range refs {
		if r != 0 {
			pairBytes += len(s.pair(uint32(id)))
			idBytes += int(r) * uvarintLen(uint64(live))
			live++
		}
	}
	t := labelStore{pairs: make([]byte, 0, pairBytes+pad), offs: make([]uint32, 1, live+1), ids: make([]byte, 0, idBytes),
		index: make(map[uint64]uint32, live), seed: s.seed, base: live, scratch: s.scratch}
	for id, r := range refs {
		if r != 0 {
			refs[id] = uint32(t.npairs())
			t.add(s.pair(uint32(id)))
		}
	}
	for h, ent := range cache {
		ids := s.ids[ent.off:]
		ent.off = uint32(len(t.ids))
		var id uint32
		for left := int(ent.n); left > 0; left -= len(s.pair(id)) {
			id, ids = next(ids)
			t.ids = binary.AppendUvarint(t.ids, uint64(refs[id]))
		}
		cache[h] = ent
	}
	*s = t
}

// add appends a pair known to be absent.
func (s *labelStore) add(p []byte) {
	h := maphash.Bytes(s.seed, p)
	for {
		if _, ok := s.index[h]; !ok {
			break
		}
		h++
	}
	s.index[h] = uint32(s.npairs())
	s.appendPair(p)
}

// appendPair appends p to the pairs, keeping pad bytes of capacity.
func (s *labelStore) appendPair(p []byte) {
	s.pairs = append(slices.Grow(s.pairs, len(p)+pad), p...)
	s.offs = append(s.offs, uint32(len(s.pairs)))
}

// appendLabel appends lb as one Label field (1) of a TimeSeries.
func appendLabel(b []byte, lb labels.Label) []byte {
	b = append(b, 0x0a)
	b = binary.AppendUvarint(b, uint64(labelLen(lb)))
	b = append(b, 0x0a)
	b = binary.AppendUvarint(b, uint64(len(lb.Name)))
	b = append(b, lb.Name...)
	b = append(b, 0x12)
	b = binary.AppendUvarint(b, uint64(len(lb.Value)))
	return append(b, lb.Value...)
}
