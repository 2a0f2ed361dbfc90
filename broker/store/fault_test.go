package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

func TestFsyncFailureFailsAppendsAndKeepsReads(t *testing.T) {
	dir := t.TempDir()
	ffs := vfs.NewFaultFS(vfs.Default)
	cfg := testConfig(dir)
	cfg.FS = ffs
	s := mustOpen(t, cfg)
	mustAppend(t, s, testBatch("t", 0, 1, 1, 100))
	ffs.Inject(func(op vfs.Op, name string) error {
		if op == vfs.OpSync && strings.HasSuffix(name, ".seg") {
			return syscall.EIO
		}
		return nil
	})
	_, err := s.Append(context.Background(), testBatch("t", 0, 2, 1, 100))
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("append with failing fsync: %v, want ErrFailed wrapping EIO", err)
	}
	ffs.Inject(nil)
	// Sticky: the store cannot know what reached the disk.
	if _, err := s.Append(context.Background(), testBatch("t", 0, 3, 1, 100)); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after failed fsync: %v, want ErrFailed", err)
	}
	if ids, _ := readAll(t, s, "t", 0); !slices.Equal(ids, []uint64{1}) {
		t.Fatalf("reads after failed fsync gave %v, want [1]", ids)
	}
	s.Close()
	// Reopening re-validates; the unacknowledged batch may or may not be
	// there, but it is intact if it is, and appends work again.
	s = mustOpen(t, cfg)
	defer s.Close()
	ids, corrupt := readAll(t, s, "t", 0)
	if len(corrupt) > 0 || ids[0] != 1 || len(ids) > 2 {
		t.Fatalf("after reopen read %v, corrupt %v", ids, corrupt)
	}
	mustAppend(t, s, testBatch("t", 0, 4, 1, 100))
}

func TestENOSPCLeavesNoPartialRecord(t *testing.T) {
	dir := t.TempDir()
	ffs := vfs.NewFaultFS(vfs.Default)
	cfg := testConfig(dir)
	cfg.FS = ffs
	cfg.DiskFullRatio = 0.999999 // guard on, so a full disk keeps appends refused
	s := mustOpen(t, cfg)
	defer s.Close()
	mustAppend(t, s, testBatch("t", 0, 1, 1, 1000))
	_, before := lastSegment(t, dir)
	ffs.SetNoSpace(true)
	_, err := s.Append(context.Background(), testBatch("t", 0, 2, 1, 1000))
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on full disk: %v, want ErrDiskFull wrapping ENOSPC", err)
	}
	if _, after := lastSegment(t, dir); after != before {
		t.Fatalf("segment grew from %d to %d bytes: a partial record is on disk", before, after)
	}
	if ids, _ := readAll(t, s, "t", 0); !slices.Equal(ids, []uint64{1}) {
		t.Fatalf("reads on a full disk gave %v", ids)
	}
	// Space returns: appends resume by themselves, at the next offset.
	ffs.SetNoSpace(false)
	res := appendEventually(t, s, testBatch("t", 0, 3, 1, 1000))
	if res.BaseOffset != 1 {
		t.Fatalf("first append after space returned got offset %d, want 1", res.BaseOffset)
	}
	if ids, corrupt := readAll(t, s, "t", 0); !slices.Equal(ids, []uint64{1, 3}) || len(corrupt) > 0 {
		t.Fatalf("read %v, corrupt %v", ids, corrupt)
	}
}

// appendEventually retries an append refused for space until the guard
// lets it through.
func appendEventually(t *testing.T, s *Store, b *Batch) Appended {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := s.Append(context.Background(), b)
		if err == nil {
			return res
		}
		if !errors.Is(err, ErrDiskFull) || time.Now().After(deadline) {
			t.Fatalf("append: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDiskGuard(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	cfg := testConfig(t.TempDir())
	cfg.FS = ffs
	cfg.DiskFullRatio = 0.9
	ffs.SetUsedFraction(0.5)
	s := mustOpen(t, cfg)
	defer s.Close()
	mustAppend(t, s, testBatch("t", 0, 1, 1, 100))
	ffs.SetUsedFraction(0.95)
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = s.Append(context.Background(), testBatch("t", 0, 2, 1, 100)); err != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "disk almost full: 95.0% of the disk") {
		t.Fatalf("append above the guard: %v", err)
	}
	if _, err := s.Read("t", 0, 0, ReadOptions{}); err != nil {
		t.Fatalf("read above the guard: %v", err)
	}
	ffs.SetUsedFraction(0.5)
	appendEventually(t, s, testBatch("t", 0, 3, 1, 100))
}

func TestRetentionByAge(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxAge = time.Hour
	var future bool
	cfg.Now = func() time.Time {
		if future {
			return time.Now().Add(2 * time.Hour)
		}
		return time.Now()
	}
	s := mustOpen(t, cfg)
	defer s.Close()
	for id := uint64(1); id <= 200; id++ {
		mustAppend(t, s, testBatch("t", 0, id, 1, 1000))
	}
	segs := len(s.log.Segments())
	if segs < 3 {
		t.Fatalf("only %d segments", segs)
	}
	s.applyRetention()
	if got := len(s.log.Segments()); got != segs {
		t.Fatalf("young segments deleted: %d -> %d", segs, got)
	}
	future = true
	if err := s.applyRetention(); err != nil {
		t.Fatal(err)
	}
	if got := len(s.log.Segments()); got != 1 {
		t.Fatalf("%d segments after age retention, want only the active one", got)
	}
	ids, _ := readAll(t, s, "t", 0)
	if len(ids) == 0 || len(ids) >= 200 || ids[len(ids)-1] != 200 {
		t.Fatalf("after retention read %d batches ending %v", len(ids), ids[len(ids)-1:])
	}
	if _, err := s.Read("t", 0, 0, ReadOptions{}); !errors.Is(err, ErrOffsetGone) {
		t.Fatalf("read of a deleted offset: %v, want ErrOffsetGone", err)
	}
}

func TestRetentionBySize(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxSize = 200 << 10
	cfg.CQEntriesPerFile = 16
	s := mustOpen(t, cfg)
	for id := uint64(1); id <= 1000; id++ {
		mustAppend(t, s, testBatch("t", 0, id, 1, 1000))
	}
	if err := s.applyRetention(); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sg := range s.log.Segments() {
		total += sg.Size
	}
	if total > cfg.MaxSize {
		t.Fatalf("log is %d bytes after size retention, limit %d", total, cfg.MaxSize)
	}
	cqFiles, _ := filepath.Glob(filepath.Join(dir, "cq", "t", "0", "*.cq"))
	if len(cqFiles) > 20 {
		t.Fatalf("%d consume queue files left: old ones not deleted", len(cqFiles))
	}
	ids, _ := readAll(t, s, "t", 0)
	if len(ids) == 0 || ids[len(ids)-1] != 1000 {
		t.Fatalf("newest batches lost: %v", ids[max(0, len(ids)-3):])
	}
	lo, hi, _ := s.QueueRange("t", 0)
	s.Close()
	s = mustOpen(t, cfg)
	defer s.Close()
	if lo2, hi2, _ := s.QueueRange("t", 0); lo2 != lo || hi2 != hi {
		t.Fatalf("range after reopen %d..%d, want %d..%d", lo2, hi2, lo, hi)
	}
	if res := mustAppend(t, s, testBatch("t", 0, 1001, 1, 10)); res.BaseOffset != 1000 {
		t.Fatalf("offset after retention and reopen %d, want 1000", res.BaseOffset)
	}
}

func TestRebuildDeletedConsumeQueue(t *testing.T) {
	for _, crash := range []bool{false, true} {
		name := "clean"
		if crash {
			name = "crash"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.CQEntriesPerFile = 8
			s := mustOpen(t, cfg)
			var want []uint64
			for id := uint64(1); id <= 100; id++ {
				mustAppend(t, s, testBatch("t", uint32(id%2), id, 3, 500))
				if id%2 == 1 {
					want = append(want, id)
				}
			}
			if crash {
				s.checkpoint()
				mustAppend(t, s, testBatch("t", 1, 101, 3, 500))
				want = append(want, 101)
				s.crash()
			} else {
				s.Close()
			}
			if err := os.RemoveAll(filepath.Join(dir, "cq", "t", "1")); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, cfg)
			defer s.Close()
			ids, corrupt := readAll(t, s, "t", 1)
			if !slices.Equal(ids, want) || len(corrupt) > 0 {
				t.Fatalf("rebuilt queue reads %v (corrupt %v), want %v", ids, corrupt, want)
			}
			if res := mustAppend(t, s, testBatch("t", 1, 200, 1, 10)); res.BaseOffset != int64(3*len(want)) {
				t.Fatalf("next offset of rebuilt queue %d, want %d", res.BaseOffset, 3*len(want))
			}
		})
	}
}

func TestDamagedConsumeQueueIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s := mustOpen(t, cfg)
	for id := uint64(1); id <= 20; id++ {
		mustAppend(t, s, testBatch("t", 0, id, 1, 100))
	}
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "cq", "t", "0", "*.cq"))
	f, _ := os.OpenFile(files[0], os.O_RDWR, 0)
	f.WriteAt([]byte{0xff, 0xff}, 5*48+3)
	f.Close()
	s = mustOpen(t, cfg)
	defer s.Close()
	if ids, _ := readAll(t, s, "t", 0); len(ids) != 20 {
		t.Fatalf("read %d batches after cq damage, want 20", len(ids))
	}
}
