package transform

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// maxUnions bounds the cached unions; other combinations of routes are
// computed per event.
const maxUnions = 1024

// unionCache returns the sinks of a set of routes (a bit mask), each sink
// once, in the order of the routes. Reads are lock-free: the map is
// replaced, never changed, when a new combination is added.
type unionCache struct {
	to [][]string
	mu sync.Mutex // serializes adds
	m  atomic.Pointer[map[uint64][]string]
}

func newUnionCache(to [][]string) *unionCache {
	u := &unionCache{to: to}
	m := map[uint64][]string{}
	u.m.Store(&m)
	return u
}

// get returns the union for mask; nil for 0 (no route matched).
func (u *unionCache) get(mask uint64) []string {
	if mask == 0 {
		return nil
	}
	if s, ok := (*u.m.Load())[mask]; ok {
		return s
	}
	s := u.compute(mask)
	u.mu.Lock()
	defer u.mu.Unlock()
	old := *u.m.Load()
	if len(old) < maxUnions {
		m := maps.Clone(old)
		m[mask] = s
		u.m.Store(&m)
	}
	return s
}

func (u *unionCache) compute(mask uint64) []string {
	var s []string
	for i, to := range u.to {
		if mask&(1<<i) == 0 {
			continue
		}
		for _, name := range to {
			if !slices.Contains(s, name) {
				s = append(s, name)
			}
		}
	}
	return slices.Clip(s)
}
