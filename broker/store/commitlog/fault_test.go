package commitlog

import (
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

func TestAppendWriteFailure(t *testing.T) {
	failWrites := func(ffs *vfs.FaultFS) {
		ffs.Inject(func(op vfs.Op, _ string) error {
			if op == vfs.OpWrite {
				return errInjected
			}
			return nil
		})
	}
	failSecondWrite := func(ffs *vfs.FaultFS) {
		var writes atomic.Int32
		ffs.Inject(func(op vfs.Op, _ string) error {
			if op == vfs.OpWrite && writes.Add(1) == 2 {
				return errInjected
			}
			return nil
		})
	}
	diskFull := func(ffs *vfs.FaultFS) { ffs.SetNoSpace(true) }
	tests := []struct {
		name    string
		prefill []int
		parts   []int // of the record whose write fails
		fault   func(*vfs.FaultFS)
		wantErr error
	}{
		{"write fails half-way", []int{1000}, []int{500}, failWrites, errInjected},
		{"disk full", []int{1000}, []int{500}, diskFull, syscall.ENOSPC},
		{"first record", nil, []int{500}, failWrites, errInjected},
		{"second part fails", []int{1000}, []int{100, 400}, failSecondWrite, errInjected},
		{"record that starts a segment", []int{3000}, []int{2000}, failWrites, errInjected},
		{"disk full on a new segment", []int{3000}, []int{2000}, diskFull, syscall.ENOSPC},
		{"large record", []int{100}, []int{10000}, failWrites, errInjected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := vfs.NewFaultFS(vfs.Default)
			l := openLog(t, Config{FS: ffs, Dir: dir, SegmentSize: testSegmentSize})
			appendRecords(t, l, tt.prefill...)
			end := l.End()
			sizes := map[int64]int64{}
			for _, s := range l.Segments() {
				sizes[s.Start] = fileSize(t, s.Path)
			}

			tt.fault(ffs)
			n := sum(tt.parts)
			_, err := l.Append(split(garbage(end, n), tt.parts)...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Append = %v, want an error wrapping %v", err, tt.wantErr)
			}
			if l.End() != end {
				t.Fatalf("End after a failed Append = %d, want %d", l.End(), end)
			}
			for _, s := range l.Segments() {
				// A segment created for the failed record stays empty.
				if got := fileSize(t, s.Path); got != sizes[s.Start] || got != s.Size {
					t.Fatalf("segment %s after a failed Append: %d bytes on disk, Segments says %d, want %d",
						s.Path, got, s.Size, sizes[s.Start])
				}
			}
			buf := make([]byte, 1)
			if _, err := l.ReadAt(buf, end); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadAt(End) after a failed Append = %v, want io.ErrUnexpectedEOF", err)
			}

			ffs.Inject(nil)
			ffs.SetNoSpace(false)
			appendRecords(t, l, n, 10)
			checkRead(t, l, end, n)
			checkContiguous(t, l)
			checkDisk(t, l)
		})
	}
}

func TestAppendWriteAndCutFailure(t *testing.T) {
	tests := []struct {
		name    string
		prefill []int
		parts   []int // of the record whose write and cut fail
		next    int   // size of the record appended once the faults are gone
	}{
		{"same segment", []int{1000}, []int{500}, 300},
		{"first record", nil, []int{500}, 300},
		{"parts", []int{1000}, []int{100, 400}, 300},
		{"failed record started a segment", []int{3000}, []int{2000}, 100},
		{"next record starts a segment", []int{3000}, []int{500}, 2000},
		{"next record is large", []int{3000}, []int{500}, 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := vfs.NewFaultFS(vfs.Default)
			cfg := Config{FS: ffs, Dir: dir, SegmentSize: testSegmentSize}
			l := openLog(t, cfg)
			appendRecords(t, l, tt.prefill...)
			end := l.End()

			ffs.Inject(func(op vfs.Op, _ string) error {
				if op == vfs.OpWrite || op == vfs.OpTruncate {
					return errInjected
				}
				return nil
			})
			n := sum(tt.parts)
			_, err := l.Append(split(garbage(end, n), tt.parts)...)
			if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "cut partial write") {
				t.Fatalf("Append = %v, want an error wrapping %v that says the cut failed", err, errInjected)
			}
			if l.End() != end {
				t.Fatalf("End after a failed Append = %d, want %d", l.End(), end)
			}
			segs := l.Segments()
			active := segs[len(segs)-1]
			if got, want := fileSize(t, active.Path), end-active.Start+int64(tt.parts[0]/2); got != want {
				t.Fatalf("segment %s holds %d bytes on disk, want %d: the partial write should still be there", active.Path, got, want)
			}

			ffs.Inject(nil)
			appendRecords(t, l, tt.next)
			checkRead(t, l, end, tt.next)
			checkContiguous(t, l)
			checkDisk(t, l)

			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, cfg)
			if l.End() != end+int64(tt.next) {
				t.Fatalf("reopened: End = %d, want %d", l.End(), end+int64(tt.next))
			}
			checkContiguous(t, l)
			checkDisk(t, l)
		})
	}
}

// recordOps returns an injector that lets everything through and records the
// syncs, as segment names or "dir".
func recordOps(mu *sync.Mutex, ops *[]string) vfs.Injector {
	return func(op vfs.Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		switch op {
		case vfs.OpSync:
			*ops = append(*ops, filepath.Base(name))
		case vfs.OpSyncDir:
			*ops = append(*ops, "dir")
		}
		return nil
	}
}

func TestSync(t *testing.T) {
	seg := SegmentName
	tests := []struct {
		name    string
		sizes   []int // appended after a first Sync
		wantOps []string
	}{
		{"nothing appended", nil, []string{seg(0)}},
		{"one segment", []int{100, 100}, []string{seg(0)}},
		{"rolled once", []int{3000, 2000}, []string{seg(0), seg(3000), "dir"}},
		{"rolled twice", []int{3000, 2000, 3000}, []string{seg(0), seg(3000), seg(5000), "dir"}},
		{"large record", []int{100, 10000}, []string{seg(0), seg(100), "dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ffs := vfs.NewFaultFS(vfs.Default)
			l := openLog(t, Config{FS: ffs, Dir: t.TempDir(), SegmentSize: testSegmentSize})
			var mu sync.Mutex
			var ops []string
			ffs.Inject(recordOps(&mu, &ops))
			// The new log's first segment is created: Sync makes its
			// directory entry durable.
			if end, err := l.Sync(); err != nil || end != 0 {
				t.Fatalf("first Sync = %d, %v; want 0, nil", end, err)
			}
			if want := []string{seg(0), "dir"}; !slices.Equal(ops, want) {
				t.Fatalf("first Sync synced %v, want %v", ops, want)
			}

			appendRecords(t, l, tt.sizes...)
			ops = nil
			before := l.End()
			end, err := l.Sync()
			if err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if end < before {
				t.Fatalf("Sync = %d, want at least %d (End before the call)", end, before)
			}
			if !slices.Equal(ops, tt.wantOps) {
				t.Fatalf("Sync synced %v, want %v", ops, tt.wantOps)
			}

			// Nothing new: only the active segment is synced again.
			ops = nil
			if end2, err := l.Sync(); err != nil || end2 != end {
				t.Fatalf("second Sync = %d, %v; want %d, nil", end2, err, end)
			}
			if want := []string{filepath.Base(l.Segments()[len(l.Segments())-1].Path)}; !slices.Equal(ops, want) {
				t.Fatalf("second Sync synced %v, want %v", ops, want)
			}
		})
	}
}

func TestSyncFailure(t *testing.T) {
	failSync := func(start int64) func(vfs.Op, string) bool {
		return func(op vfs.Op, name string) bool {
			return op == vfs.OpSync && filepath.Base(name) == SegmentName(start)
		}
	}
	failSyncDir := func(op vfs.Op, _ string) bool { return op == vfs.OpSyncDir }
	tests := []struct {
		name      string
		sizes     []int
		fail      func(vfs.Op, string) bool
		wantInErr string // besides the injected error
		wantRetry string // synced again by the next Sync; "" checks nothing
	}{
		{"active segment", []int{100}, failSync(0), SegmentName(0), SegmentName(0)},
		{"sealed segment", []int{3000, 2000}, failSync(0), SegmentName(0), ""},
		{"active segment after rolling", []int{3000, 2000}, failSync(3000), SegmentName(3000), SegmentName(3000)},
		{"directory after rolling", []int{3000, 2000}, failSyncDir, "sync commit log directory", "dir"},
		{"directory after a large record", []int{100, 10000}, failSyncDir, "sync commit log directory", "dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ffs := vfs.NewFaultFS(vfs.Default)
			l := openLog(t, Config{FS: ffs, Dir: t.TempDir(), SegmentSize: testSegmentSize})
			if _, err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			appendRecords(t, l, tt.sizes...)
			ffs.Inject(func(op vfs.Op, name string) error {
				if tt.fail(op, name) {
					return errInjected
				}
				return nil
			})
			_, err := l.Sync()
			if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Sync = %v, want an error wrapping %v that contains %q", err, errInjected, tt.wantInErr)
			}

			var mu sync.Mutex
			var ops []string
			ffs.Inject(recordOps(&mu, &ops))
			end, err := l.Sync()
			if err != nil || end != l.End() {
				t.Fatalf("Sync after the fault = %d, %v; want %d, nil", end, err, l.End())
			}
			if tt.wantRetry != "" && !slices.Contains(ops, tt.wantRetry) {
				t.Fatalf("Sync after the fault synced %v, want %s among them", ops, tt.wantRetry)
			}
		})
	}
}

// noSyncFS is the operating system's file system with fsync turned into a
// no-op, so that a Sync loop runs fast enough to race with rolling.
type noSyncFS struct{ vfs.FS }

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error { return nil }

func (fs noSyncFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

func (noSyncFS) SyncDir(string) error { return nil }

// TestSyncWhileRolling checks that a Sync racing with an Append that seals a
// segment still syncs every segment holding bytes below what it returns. It
// counts, per segment, the writes begun before its latest fsync began: every
// record below the returned position must be among them.
func TestSyncWhileRolling(t *testing.T) {
	const recSize, perSegment, records = 100, 2, 20000
	dir := t.TempDir()
	ffs := vfs.NewFaultFS(noSyncFS{vfs.Default})
	var mu sync.Mutex
	writes := map[string]int{} // writes begun, by segment path
	synced := map[string]int{} // writes[path] when the latest fsync of path began
	ffs.Inject(func(op vfs.Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		switch op {
		case vfs.OpWrite:
			writes[name]++
		case vfs.OpSync:
			synced[name] = writes[name]
		}
		return nil
	})
	l := openLog(t, Config{FS: ffs, Dir: dir, SegmentSize: recSize * perSegment})

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		rec := make([]byte, recSize)
		for range records {
			if _, err := l.Append(rec); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			end, err := l.Sync()
			if err != nil {
				t.Errorf("Sync: %v", err)
				return
			}
			if end == 0 {
				continue
			}
			// The last record below end, the k-th of its segment.
			last := end - recSize
			start := last - last%(recSize*perSegment)
			k := int((last-start)/recSize) + 1
			path := filepath.Join(dir, SegmentName(start))
			mu.Lock()
			got := synced[path]
			mu.Unlock()
			if got < k {
				t.Errorf("Sync returned %d, but segment %s was last synced after %d writes, not the %d below %d",
					end, SegmentName(start), got, k, end)
				return
			}
		}
	})
	wg.Wait()
}
