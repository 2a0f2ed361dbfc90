package memlimit

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLimitFor(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name   string
		u      usage
		target int64
		want   int64
	}{
		{"small live data: the target", usage{live: 10 * mib, nonHeap: 5 * mib}, 24 * mib, 24 * mib},
		{"live data near the target: half again it", usage{live: 20 * mib, nonHeap: 5 * mib}, 24 * mib, 35 * mib},
		{"live data past the target", usage{live: 100 * mib, nonHeap: 8 * mib}, 24 * mib, 158 * mib},
		{"absurd sizes do not overflow", usage{live: math.MaxUint64 / 2}, 24 * mib, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := limitFor(tt.u, tt.target); got != tt.want {
				t.Errorf("limitFor(%+v, %d) = %d MiB, want %d MiB", tt.u, tt.target, got/mib, tt.want/mib)
			}
		})
	}
}

// The usage read from the runtime is this process's: some live heap,
// and non-heap memory below the total.
func TestReadUsage(t *testing.T) {
	keep := make([]byte, 8<<20)
	keep[0] = 1
	s := make([]metrics.Sample, len(sampleNames))
	for i, n := range sampleNames {
		s[i].Name = n
	}
	debug.FreeOSMemory() // a GC, so that live data is measured
	u := read(s)
	if u.live < 8<<20 || u.nonHeap == 0 || u.nonHeap > 1<<30 {
		t.Errorf("usage %+v: want live ≥ 8 MiB (a slice is kept) and some non-heap memory", u)
	}
	runtime.KeepAlive(keep)
}

func TestStartSetsAndRestoresTheLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	before := debug.SetMemoryLimit(-1)
	stop := Start(context.Background(), 1<<40, false)
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) != 1<<40 {
		if time.Now().After(deadline) {
			t.Fatalf("limit is %d, want the 1 TiB target", debug.SetMemoryLimit(-1))
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after stop is %d, want %d back", got, before)
	}
}

func TestBudgetTurnsGOGCOffAndBack(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	gogc := debug.SetGCPercent(100)
	defer debug.SetGCPercent(gogc)
	stop := Start(context.Background(), 1<<40, true)
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) != 1<<40 || gcPercent() != -1 {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d, GOGC %d: want the 1 TiB budget and GOGC off", debug.SetMemoryLimit(-1), gcPercent())
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	if gcPercent() != 100 {
		t.Errorf("GOGC after stop is %d, want 100 back", gcPercent())
	}
}

// gcPercent reads GOGC without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestStartDefersToTheOperator(t *testing.T) {
	for _, env := range [][2]string{{"GOMEMLIMIT", "1GiB"}, {"GOGC", "off"}} {
		t.Setenv(env[0], env[1])
		before, gogc := debug.SetMemoryLimit(-1), gcPercent()
		stop := Start(context.Background(), 1<<40, true)
		time.Sleep(10 * time.Millisecond) // time to steer, if it did
		if got := debug.SetMemoryLimit(-1); got != before || gcPercent() != gogc {
			t.Errorf("with %s=%s the limit went %d -> %d, GOGC %d -> %d", env[0], env[1], before, got, gogc, gcPercent())
		}
		stop()
		t.Setenv(env[0], "")
	}
}
