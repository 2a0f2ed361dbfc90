package memlimit

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Every is how often the tuner looks at the live heap.
const Every = time.Second

// samples are what limitFor needs, read together.
var sampleNames = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
}

// usage is the memory the limit is about: live heap data, and what the
// runtime holds besides the heap (stacks, GC metadata, buffers), which
// counts against a memory limit too.
type usage struct {
	live, nonHeap uint64
}

func read(s []metrics.Sample) usage {
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	heap := v(2) + v(3) + v(4) + v(5)
	u := usage{live: v(0)}
	if total := v(1); total > heap {
		u.nonHeap = total - heap
	}
	return u
}

// limitFor is the soft limit for u: target, unless that would leave the
// heap less than half again its live data.
func limitFor(u usage, target int64) int64 {
	floor := u.live + u.live/2 + u.nonHeap
	if floor > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return max(target, int64(floor))
}

// Start steers the soft memory limit towards target in a goroutine until
// the returned func, which stops it, waits for it and puts back the
// limit (and GOGC) it found. It does nothing when target is not
// positive, or when GOMEMLIMIT or GOGC=off says the operator steers.
//
// With budget set it is for throughput rather than size, for the
// collector: GOGC is off, so the GC runs only as the process nears
// target instead of each time the heap doubles; a collector whose live
// data is 20 MB otherwise collects every 20 MB it allocates, and spends
// a third of its CPU there. The limit follows the live data up either
// way, so the GC never thrashes.
func Start(ctx context.Context, target int64, budget bool) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		steer(ctx, target, budget)
	}()
	return func() {
		cancel()
		<-done
	}
}

func steer(ctx context.Context, target int64, gcOff bool) {
	if target <= 0 || os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") == "off" {
		return
	}
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	s := make([]metrics.Sample, len(sampleNames))
	for i, n := range sampleNames {
		s[i].Name = n
	}
	debug.SetMemoryLimit(limitFor(read(s), target))
	if gcOff {
		// After the limit is set, so that the heap is never unbounded.
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
	}
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		debug.SetMemoryLimit(limitFor(read(s), target))
	}
}
