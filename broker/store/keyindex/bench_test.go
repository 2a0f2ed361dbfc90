package keyindex

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAdd measures the dispatcher's hot path in the steady state: the
// in-memory part is reused after every checkpoint, so Add allocates nothing.
func BenchmarkAdd(b *testing.B) {
	x, err := Open(Config{Dir: b.TempDir()}, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	const interval = 1 << 16
	var pos int64
	// Warm up one checkpoint interval so that the slice has its size.
	for i := range interval {
		x.Add(Entry{Hash: keyHash(i), Pos: pos})
		pos++
	}
	if err := x.Checkpoint(pos); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(entrySize)
	b.ResetTimer()
	for i := range b.N {
		x.Add(Entry{Hash: uint64(i) * 0x9e3779b97f4a7c15, Pos: pos, Index: uint32(i & 3)})
		pos++
		if i%interval == interval-1 {
			b.StopTimer()
			if err := x.Checkpoint(pos); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}

// BenchmarkLookup looks up keys in an index of 1M entries in 16 runs, half
// of them present (one entry each), half absent.
func BenchmarkLookup(b *testing.B) {
	const entries, runs = 1 << 20, 16
	x, err := Open(Config{Dir: b.TempDir()}, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	for i := range entries {
		x.Add(Entry{Hash: keyHash(i), Pos: int64(i)})
		if (i+1)%(entries/runs) == 0 {
			if err := x.Checkpoint(int64(i + 1)); err != nil {
				b.Fatal(err)
			}
		}
	}
	if st := x.Stats(); st.Runs != runs || st.RunEntries != entries {
		b.Fatalf("stats %+v", st)
	}
	r := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := r.IntN(entries)
		want := 1
		if i&1 == 1 {
			k += entries // absent
			want = 0
		}
		got, err := x.Lookup(keyHash(k))
		if err != nil || len(got) != want {
			b.Fatalf("Lookup: %v, %d entries, want %d", err, len(got), want)
		}
	}
}

// BenchmarkCheckpoint writes runs of 64K entries (1.25 MiB) with fsync.
func BenchmarkCheckpoint(b *testing.B) {
	x, err := Open(Config{Dir: b.TempDir(), MaxRuns: 1 << 20}, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	const n = 1 << 16
	var pos int64
	b.ReportAllocs()
	b.SetBytes(n * entrySize)
	for range b.N {
		b.StopTimer()
		for range n {
			x.Add(Entry{Hash: keyHash(int(pos)), Pos: pos})
			pos++
		}
		b.StartTimer()
		if err := x.Checkpoint(pos); err != nil {
			b.Fatal(err)
		}
	}
}
