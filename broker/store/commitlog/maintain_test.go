package commitlog

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
)

func TestTruncate(t *testing.T) {
	// Segments [0, 3000), [3000, 5000), [5000, 9000).
	sizes := []int{3000, 2000, 3000, 1000}
	tests := []struct {
		name       string
		pos        int64
		wantStarts []int64
		wantEnd    int64
	}{
		{"inside the last segment", 6000, []int64{0, 3000, 5000}, 6000},
		{"at End", 9000, []int64{0, 3000, 5000}, 9000},
		{"past End", 10000, []int64{0, 3000, 5000}, 9000},
		{"at the start of the last segment", 5000, []int64{0, 3000, 5000}, 5000},
		{"inside a middle segment", 4000, []int64{0, 3000}, 4000},
		{"inside the first segment", 1000, []int64{0}, 1000},
		{"at zero", 0, []int64{0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, SegmentSize: testSegmentSize}
			l := openLog(t, cfg)
			appendRecords(t, l, sizes...)
			if err := l.Truncate(tt.pos); err != nil {
				t.Fatalf("Truncate(%d): %v", tt.pos, err)
			}
			if l.End() != tt.wantEnd {
				t.Fatalf("End = %d, want %d", l.End(), tt.wantEnd)
			}
			if got := segmentStarts(l); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segments start at %v, want %v", got, tt.wantStarts)
			}
			if got := segmentFiles(t, dir); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segment files start at %v, want %v", got, tt.wantStarts)
			}
			checkContiguous(t, l)
			checkDisk(t, l)
			if _, err := l.ReadAt(make([]byte, 1), tt.wantEnd); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadAt(End) = %v, want io.ErrUnexpectedEOF", err)
			}
			if tt.wantEnd > 0 {
				checkRead(t, l, tt.wantEnd-1, 1)
			}
			appendRecords(t, l, 100, 3000)
			checkContiguous(t, l)
			checkDisk(t, l)

			end := l.End()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, cfg)
			if l.End() != end {
				t.Fatalf("reopened: End = %d, want %d", l.End(), end)
			}
		})
	}
}

func TestTruncateSegment(t *testing.T) {
	// Segments [0, 3000), [3000, 5000), [5000, 9000).
	sizes := []int{3000, 2000, 3000, 1000}
	tests := []struct {
		name      string
		pos       int64
		wantSizes []int64
		wantEnd   int64
		wantErr   error
	}{
		{"sealed first segment", 1000, []int64{1000, 2000, 4000}, 9000, nil},
		{"sealed segment to nothing", 3000, []int64{3000, 0, 4000}, 9000, nil},
		{"sealed middle segment", 4000, []int64{3000, 1000, 4000}, 9000, nil},
		{"last segment", 6000, []int64{3000, 2000, 1000}, 6000, nil},
		{"at End", 9000, []int64{3000, 2000, 4000}, 9000, nil},
		{"before Start", -1, []int64{3000, 2000, 4000}, 9000, ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, Config{Dir: dir, SegmentSize: testSegmentSize})
			appendRecords(t, l, sizes...)
			err := l.TruncateSegment(tt.pos)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("TruncateSegment(%d) = %v, want %v", tt.pos, err, tt.wantErr)
			}
			var got []int64
			for _, s := range l.Segments() {
				got = append(got, s.Size)
			}
			if !slices.Equal(got, tt.wantSizes) {
				t.Fatalf("segment sizes = %v, want %v", got, tt.wantSizes)
			}
			if got := segmentFiles(t, dir); !slices.Equal(got, []int64{0, 3000, 5000}) {
				t.Fatalf("segment files start at %v, want [0 3000 5000]", got)
			}
			if l.End() != tt.wantEnd {
				t.Fatalf("End = %d, want %d", l.End(), tt.wantEnd)
			}
			checkDisk(t, l)
			// Bytes cut from a sealed segment are gone; later segments stay readable.
			if tt.wantErr == nil && tt.pos < tt.wantEnd {
				if _, err := l.ReadAt(make([]byte, 1), tt.pos); !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("ReadAt(%d) after the cut = %v, want io.ErrUnexpectedEOF", tt.pos, err)
				}
			}
			checkRead(t, l, 5000, 1000)
			appendRecords(t, l, 10)
		})
	}
}

func TestDeleteOldest(t *testing.T) {
	tests := []struct {
		name       string
		sizes      []int
		deletes    int // successful deletions expected before the refusal
		wantStarts []int64
	}{
		{"only segment", []int{100}, 0, []int64{0}},
		{"empty log", nil, 0, []int64{0}},
		{"three segments", []int{3000, 2000, 3000}, 2, []int64{5000}},
		{"two segments", []int{3000, 2000}, 1, []int64{3000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, Config{Dir: dir, SegmentSize: testSegmentSize})
			appendRecords(t, l, tt.sizes...)
			end := l.End()
			for i := range tt.deletes {
				oldest := l.Segments()[0]
				if err := l.DeleteOldest(); err != nil {
					t.Fatalf("DeleteOldest %d: %v", i, err)
				}
				if _, err := os.Stat(oldest.Path); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("segment %s still exists after DeleteOldest: %v", oldest.Path, err)
				}
				if l.Start() != oldest.End() {
					t.Fatalf("Start = %d, want %d", l.Start(), oldest.End())
				}
			}
			if err := l.DeleteOldest(); err == nil {
				t.Fatal("DeleteOldest deleted the active segment")
			}
			if got := segmentStarts(l); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segments start at %v, want %v", got, tt.wantStarts)
			}
			if got := segmentFiles(t, dir); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segment files start at %v, want %v", got, tt.wantStarts)
			}
			if l.End() != end {
				t.Fatalf("End = %d, want %d", l.End(), end)
			}
			checkContiguous(t, l)
			appendRecords(t, l, 10)
		})
	}
}

// TestDeleteOldestWhileReading deletes a segment that readers are reading:
// each read either succeeds with the right bytes or reports ErrOutOfRange.
func TestDeleteOldestWhileReading(t *testing.T) {
	const readers = 4
	for range 20 {
		l := openLog(t, Config{Dir: t.TempDir(), SegmentSize: testSegmentSize})
		appendRecords(t, l, 3000, 2000, 3000)
		var started sync.WaitGroup
		started.Add(readers)
		var wg sync.WaitGroup
		for r := range readers {
			wg.Go(func() {
				p := make([]byte, 1000)
				pos := int64(r * 500)
				for i := 0; ; i++ {
					if i == 10 {
						started.Done()
					}
					_, err := l.ReadAt(p, pos)
					if errors.Is(err, ErrOutOfRange) {
						if i < 10 {
							started.Done()
						}
						return
					}
					if err != nil {
						t.Errorf("ReadAt(%d) while deleting: %v", pos, err)
						return
					}
					if !bytes.Equal(p, content(pos, len(p))) {
						t.Errorf("ReadAt(%d) while deleting read other bytes than were appended", pos)
						return
					}
				}
			})
		}
		started.Wait()
		if err := l.DeleteOldest(); err != nil {
			t.Fatalf("DeleteOldest: %v", err)
		}
		wg.Wait()
		checkRead(t, l, 3000, 1000)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrent runs one appender, several readers, a Sync loop and
// retention at once; run it with -race.
func TestConcurrent(t *testing.T) {
	const (
		records     = 3000
		readers     = 4
		maxSegments = 6
	)
	l := openLog(t, Config{Dir: t.TempDir(), SegmentSize: testSegmentSize})

	type span struct {
		pos int64
		n   int
	}
	var mu sync.Mutex
	var appended []span
	done := make(chan struct{})
	var wg sync.WaitGroup

	wg.Go(func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(1, 2))
		for range records {
			n := 1 + rng.IntN(1500)
			want := l.End()
			pos, err := l.Append(content(want, n))
			if err != nil || pos != want {
				t.Errorf("Append = %d, %v; want %d, nil", pos, err, want)
				return
			}
			mu.Lock()
			appended = append(appended, span{pos, n})
			mu.Unlock()
		}
	})
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 3))
			var p []byte
			for {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				if len(appended) == 0 {
					mu.Unlock()
					continue
				}
				s := appended[rng.IntN(len(appended))]
				mu.Unlock()
				if cap(p) < s.n {
					p = make([]byte, s.n)
				}
				p = p[:s.n]
				_, err := l.ReadAt(p, s.pos)
				switch {
				case errors.Is(err, ErrOutOfRange):
					if start := l.Start(); s.pos >= start {
						t.Errorf("ReadAt(%d) = %v, but Start is %d", s.pos, err, start)
						return
					}
				case err != nil:
					t.Errorf("ReadAt(%d bytes, %d): %v", s.n, s.pos, err)
					return
				case !bytes.Equal(p, content(s.pos, s.n)):
					t.Errorf("ReadAt(%d bytes, %d) read other bytes than were appended", s.n, s.pos)
					return
				}
			}
		})
	}
	wg.Go(func() {
		last := int64(0)
		for {
			select {
			case <-done:
				return
			default:
			}
			before := l.End()
			end, err := l.Sync()
			if err != nil {
				t.Errorf("Sync: %v", err)
				return
			}
			if end < before || end < last || end > l.End() {
				t.Errorf("Sync = %d; End was %d before, %d after, previous Sync %d", end, before, l.End(), last)
				return
			}
			last = end
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if len(l.Segments()) > maxSegments {
				if err := l.DeleteOldest(); err != nil {
					t.Errorf("DeleteOldest: %v", err)
					return
				}
			}
		}
	})
	wg.Wait()

	if end, err := l.Sync(); err != nil || end != l.End() {
		t.Fatalf("final Sync = %d, %v; want %d, nil", end, err, l.End())
	}
	checkContiguous(t, l)
	checkDisk(t, l)
}

// BenchmarkAppend appends 64 KiB records without syncing; the log itself
// allocates nothing per record (rolling a segment allocates, once per 512
// records here).
func BenchmarkAppend(b *testing.B) {
	const recSize = 64 << 10
	const segmentSize = 32 << 20
	l := openLog(b, Config{Dir: b.TempDir(), SegmentSize: segmentSize})
	rec := content(0, recSize)
	b.SetBytes(recSize)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Append(rec); err != nil {
			b.Fatal(err)
		}
		if i%(2*segmentSize/recSize) == 0 && i > 0 {
			// Keep the disk footprint small.
			b.StopTimer()
			for len(l.Segments()) > 1 {
				if err := l.DeleteOldest(); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
	}
}
