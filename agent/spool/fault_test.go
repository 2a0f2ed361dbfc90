package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// Appenders arriving while an fsync runs share the next one.
func TestGroupCommit(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	s := open(t, Config{Dir: t.TempDir(), FS: ffs})
	defer s.Close()
	var syncs atomic.Int64
	release := make(chan struct{})
	ffs.Inject(func(op vfs.Op, name string) error {
		if op == vfs.OpSync && strings.HasSuffix(name, ".seg") {
			if syncs.Add(1) == 1 {
				<-release // hold the first fsync until the others wrote
			}
		}
		return nil
	})
	const appenders = 8
	var wg sync.WaitGroup
	for i := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Append(context.Background(), entry(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	for {
		s.mu.Lock()
		written := s.lastTicket
		s.mu.Unlock()
		if written == appenders {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if n := syncs.Load(); n != 2 {
		t.Fatalf("%d fsyncs for %d appends, want 2: the first, and one shared by the rest", n, appenders)
	}
}

// A failed fsync fails every append it covered and cuts their records:
// the file holds exactly the acknowledged records, and reopening finds no
// damage.
func TestFsyncFailureCutsUnsyncedRecords(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	dir := t.TempDir()
	cfg := Config{Dir: dir, FS: ffs}
	s := open(t, cfg)
	appendN(t, s, 0, 5)
	seg := filepath.Join(dir, "00000000000000000000.seg")
	before, _ := os.ReadFile(seg)
	var failNext atomic.Bool
	failNext.Store(true)
	release := make(chan struct{})
	ffs.Inject(func(op vfs.Op, name string) error {
		if op == vfs.OpSync && strings.HasSuffix(name, ".seg") && failNext.Swap(false) {
			<-release
			return syscall.EIO
		}
		return nil
	})
	const appenders = 4
	errs := make(chan error, appenders)
	for i := range appenders {
		go func() { errs <- s.Append(context.Background(), entry(100+i)) }()
	}
	for {
		s.mu.Lock()
		written := s.lastTicket
		s.mu.Unlock()
		if written >= 5+1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	failed := 0
	for range appenders {
		if err := <-errs; err != nil {
			if !errors.Is(err, syscall.EIO) {
				t.Fatalf("append error %v does not wrap EIO", err)
			}
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no append failed through a failing fsync")
	}
	if s.Len() != int64(5+appenders-failed) {
		t.Fatalf("len %d with %d of %d appends failed", s.Len(), failed, appenders)
	}
	after, _ := os.ReadFile(seg)
	if failed == appenders && !bytes.Equal(before, after) {
		t.Fatalf("segment changed from %d to %d bytes though every append failed", len(before), len(after))
	}
	expect(t, s, 0, 5, true)
	s.Close()
	s = open(t, Config{Dir: dir})
	defer s.Close()
	if s.Len() != int64(appenders-failed) || s.m.corrupt.Get() != 0 || s.m.tornTails.Get() != 0 {
		t.Fatalf("after reopen: len %d, corrupt %d, torn %d", s.Len(), s.m.corrupt.Get(), s.m.tornTails.Get())
	}
}

// A full disk stores half a write and fails: the half is cut, the append
// fails with ENOSPC, and appends work again once space returns.
func TestENOSPCLeavesNoPartialRecord(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, FS: ffs, SegmentSize: 4096, MaxSize: 1 << 20})
	defer s.Close()
	appendN(t, s, 0, 3)
	seg := filepath.Join(dir, "00000000000000000000.seg")
	before, _ := os.ReadFile(seg)
	ffs.SetNoSpace(true)
	if err := s.Append(context.Background(), entry(3)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want ENOSPC", err)
	}
	after, _ := os.ReadFile(seg)
	if !bytes.Equal(before, after) {
		t.Fatalf("segment went from %d to %d bytes: a partial record is on disk", len(before), len(after))
	}
	// A new segment cannot be started either; nothing is left half made.
	ffs.Inject(func(op vfs.Op, name string) error {
		if op == vfs.OpSyncDir {
			return syscall.ENOSPC
		}
		return nil
	})
	ffs.SetNoSpace(false)
	for i := 3; ; i++ {
		err := s.Append(context.Background(), entry(i))
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("append when a segment cannot be created: %v", err)
		}
		if segs := segments(t, dir); segs != 1 {
			t.Fatalf("%d segment files after a failed rotation, want 1", segs)
		}
		ffs.Inject(nil)
		appendN(t, s, i, 1)
		if segs := segments(t, dir); segs != 2 {
			t.Fatalf("%d segment files, want 2", segs)
		}
		expect(t, s, 0, i+1, true)
		break
	}
}

// Reading a spool many times larger than a segment holds one record at a
// time: neither Open's scan nor Next ever allocates a buffer above the
// largest record.
func TestReplayStreams(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SegmentSize: 16 << 10, MaxSize: 64 << 20}
	s := open(t, cfg)
	rec := bytes.Repeat([]byte("r"), 1024)
	const n = 2 << 10 // 2 MiB of records, 130 segments
	for range n {
		if err := s.Append(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, cfg)
	defer s.Close()
	if s.Size() < 100*cfg.SegmentSize {
		t.Fatalf("spool of %d bytes: too small to show streaming", s.Size())
	}
	for range n {
		e := nextEntry(t, s)
		if len(e.Data) != len(rec) {
			t.Fatalf("record of %d bytes", len(e.Data))
		}
		if err := s.Ack(e); err != nil {
			t.Fatal(err)
		}
	}
	if s.peakRead > int64(len(rec)) {
		t.Fatalf("a read buffer of %d bytes for records of %d", s.peakRead, len(rec))
	}
}

// Appenders racing over many rotations leave contiguous segments whose
// records all read back, in each appender's order, before and after a
// reopen.
func TestConcurrentAppendsAcrossRotations(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SegmentSize: 1024, MaxSize: 1 << 20}
	s := open(t, cfg)
	const writers, per = 8, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := s.Append(context.Background(), entry(w*1000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.Close()
	s = open(t, cfg)
	defer s.Close()
	if s.Len() != writers*per {
		t.Fatalf("len %d after reopen, want %d", s.Len(), writers*per)
	}
	s.mu.Lock()
	for i := 1; i < len(s.segs); i++ {
		if s.segs[i].start != s.segs[i-1].end() {
			s.mu.Unlock()
			t.Fatalf("segment %d starts at %d, the one before ends at %d", i, s.segs[i].start, s.segs[i-1].end())
		}
	}
	nsegs := len(s.segs)
	s.mu.Unlock()
	if nsegs < 20 {
		t.Fatalf("only %d segments: too few rotations to test", nsegs)
	}
	last := map[int]int{}
	for range writers * per {
		e := nextEntry(t, s)
		var i int
		fmtSscan(e.Data, &i)
		if prev, ok := last[i/1000]; ok && i != prev+1 {
			t.Fatalf("writer %d: %d after %d", i/1000, i, prev)
		}
		last[i/1000] = i
	}
}
