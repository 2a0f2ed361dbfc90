package groups

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"
)

// rebalance spreads queues 0..n-1 over members and returns the new owner of
// each queue. It is sticky: a queue keeps its owner whenever that owner is
// still a member and within its quota, so
//
//   - when a member joins, only the queues the newcomer needs move, taken
//     from the most loaded members (they are the ones over their quota);
//   - when a member leaves, only its queues move, to the least loaded.
//
// Quotas are n/len(members), plus one for n%len(members) members, given to
// those that already hold the most queues (ties by ID) so that as few queues
// move as possible. members must not hold duplicates. The result does not
// depend on map iteration order.
func rebalance(owner map[uint32]string, members []string, n int) map[uint32]string {
	next := make(map[uint32]string, n)
	if len(members) == 0 || n <= 0 {
		return next
	}
	held := make(map[string][]uint32, len(members))
	for _, id := range members {
		held[id] = nil
	}
	var free []uint32
	for q := uint32(0); q < uint32(n); q++ {
		if o, ok := owner[q]; ok {
			if _, live := held[o]; live {
				held[o] = append(held[o], q)
				continue
			}
		}
		free = append(free, q)
	}

	order := slices.Clone(members)
	slices.SortFunc(order, func(a, b string) int {
		if c := cmp.Compare(len(held[b]), len(held[a])); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	quota := make(map[string]int, len(order))
	base, extra := n/len(order), n%len(order)
	for i, id := range order {
		quota[id] = base
		if i < extra {
			quota[id]++
		}
		// A member over its quota keeps its lowest queues and frees the rest.
		if qs := held[id]; len(qs) > quota[id] {
			free = append(free, qs[quota[id]:]...)
			held[id] = qs[:quota[id]]
		}
	}
	slices.Sort(free)
	for _, q := range free {
		best := ""
		for _, id := range order {
			if len(held[id]) >= quota[id] {
				continue
			}
			if best == "" || len(held[id]) < len(held[best]) ||
				(len(held[id]) == len(held[best]) && id < best) {
				best = id
			}
		}
		held[best] = append(held[best], q)
	}
	for id, qs := range held {
		for _, q := range qs {
			next[q] = id
		}
	}
	return next
}

// queuesOf returns the queues owned by member, sorted.
func queuesOf(owner map[uint32]string, member string) []uint32 {
	var qs []uint32
	for q, o := range owner {
		if o == member {
			qs = append(qs, q)
		}
	}
	slices.Sort(qs)
	return qs
}

func sameOwners(a, b map[uint32]string) bool { return maps.Equal(a, b) }

// startKind says where a group starts on a queue it has no offset for.
type startKind int

const (
	startEarliest startKind = iota
	startLatest
	startTime
)

// startPos is a parsed start_from or reset target.
type startPos struct {
	kind startKind
	ms   int64 // for startTime: Unix milliseconds
}

// parseStart parses "earliest", "latest" or an RFC 3339 time. Empty means
// earliest when emptyOK.
func parseStart(s string, emptyOK bool) (startPos, error) {
	switch s {
	case "earliest":
		return startPos{kind: startEarliest}, nil
	case "latest":
		return startPos{kind: startLatest}, nil
	case "":
		if emptyOK {
			return startPos{kind: startEarliest}, nil
		}
		return startPos{}, fmt.Errorf("want earliest, latest or an RFC 3339 time, got nothing")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return startPos{}, fmt.Errorf("%q is not earliest, latest or an RFC 3339 time", s)
	}
	return startPos{kind: startTime, ms: t.UnixMilli()}, nil
}

// position returns where sp points in a queue holding [lo, next).
func (sp startPos) position(qs Queues, topic string, queue uint32, lo, next int64) (int64, error) {
	switch sp.kind {
	case startLatest:
		return next, nil
	case startTime:
		off, err := qs.OffsetForTime(topic, queue, sp.ms)
		if err != nil {
			return 0, fmt.Errorf("find offset of %s/%d at %s: %w",
				topic, queue, time.UnixMilli(sp.ms).UTC().Format(time.RFC3339), err)
		}
		return clamp(off, lo, next), nil
	}
	return lo, nil
}

// clamp raises off to min (retention removed what it pointed at) and lowers
// it to next (the queue lost its unsynced tail, or never held that much),
// so that a consumer never starts where it can only fail or wait forever.
func clamp(off, lo, hi int64) int64 {
	return max(lo, min(off, hi))
}
