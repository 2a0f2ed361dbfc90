package cli

import (
	"math/bits"
	"sync"
	"time"
)

// histogram records durations in log-linear buckets: 16 per power of two,
// so a quantile is within about 6% of the true value, in constant memory
// however many samples a benchmark takes.
type histogram struct {
	mu     sync.Mutex
	counts [64 * 16]uint64
	n      uint64
}

func bucketOf(ns uint64) int {
	if ns < 16 {
		return int(ns)
	}
	exp := bits.Len64(ns) - 5 // keep the top 5 bits: 1 implicit + 4 of mantissa
	return (exp+1)*16 + int(ns>>uint(exp)&15)
}

// lowerBound is the smallest value of bucket i.
func lowerBound(i int) uint64 {
	if i < 16 {
		return uint64(i)
	}
	exp := i/16 - 1
	return (16 | uint64(i%16)) << uint(exp)
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := bucketOf(uint64(d))
	h.mu.Lock()
	h.counts[i]++
	h.n++
	h.mu.Unlock()
}

func (h *histogram) count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// quantile returns the value below which a share q of the samples fall.
func (h *histogram) quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(lowerBound(i))
		}
	}
	return 0
}
