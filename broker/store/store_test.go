package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/store/commitlog"
	"github.com/sluicehq/sluice/broker/store/record"
)

func TestAppendReadRoundTrip(t *testing.T) {
	for _, mode := range []FlushMode{FlushSync, FlushAsync} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			cfg.Flush = mode
			s := mustOpen(t, cfg)
			defer s.Close()
			var want []uint64
			for id := uint64(1); id <= 50; id++ {
				res := mustAppend(t, s, testBatch("logs", 1, id, 10, 300))
				if res.BaseOffset != int64(id-1)*10 {
					t.Fatalf("batch %d got base offset %d, want %d", id, res.BaseOffset, (id-1)*10)
				}
				want = append(want, id)
			}
			mustAppend(t, s, testBatch("logs", 2, 999, 3, 100))
			got, corrupt := readAll(t, s, "logs", 1)
			if !slices.Equal(got, want) || len(corrupt) > 0 {
				t.Fatalf("read %v (corrupt %v), want %v", got, corrupt, want)
			}
			if lo, hi, _ := s.QueueRange("logs", 2); lo != 0 || hi != 3 {
				t.Fatalf("queue 2 range %d..%d, want 0..3", lo, hi)
			}
		})
	}
}

func TestReadMidBatchAndBounds(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	for id := uint64(1); id <= 5; id++ {
		mustAppend(t, s, testBatch("t", 0, id, 100, 1000))
	}
	res, err := s.Read("t", 0, 250, ReadOptions{MaxBatches: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Batches) != 2 || res.Batches[0].BaseOffset != 200 || res.Next != 400 {
		t.Fatalf("read at 250 gave %d batches from %d, next %d; want 2 from 200, next 400",
			len(res.Batches), res.Batches[0].BaseOffset, res.Next)
	}
	// MaxBytes smaller than a batch still returns one batch.
	res, err = s.Read("t", 0, 0, ReadOptions{MaxBytes: 10})
	if err != nil || len(res.Batches) != 1 {
		t.Fatalf("read with tiny MaxBytes: %d batches, %v", len(res.Batches), err)
	}
	res, err = s.Read("t", 0, 500, ReadOptions{})
	if err != nil || len(res.Batches) != 0 || res.Next != 500 {
		t.Fatalf("read at end: %d batches, next %d, %v", len(res.Batches), res.Next, err)
	}
	if _, err := s.Read("nope", 0, 0, ReadOptions{}); !errors.Is(err, ErrUnknownQueue) {
		t.Fatalf("read of unknown queue: %v", err)
	}
}

func TestTagFilterSkipsWithoutReading(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	for id := uint64(1); id <= 20; id++ {
		b := testBatch("t", 0, id, 2, 200)
		tag := "even"
		if id%2 == 1 {
			tag = "odd"
		}
		b.TagBloom = record.TagBloom(tag)
		mustAppend(t, s, b)
	}
	match := func(bloom uint64) bool { return record.MayContainTag(bloom, "odd") }
	var got []uint64
	for off := int64(0); off < 40; {
		res, err := s.Read("t", 0, off, ReadOptions{MatchTags: match, MaxBatches: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range res.Batches {
			id, _ := idOf(b.Payload)
			got = append(got, id)
		}
		off = res.Next
	}
	for _, id := range got {
		if id%2 == 0 {
			t.Fatalf("tag filter returned even batch %d", id)
		}
	}
	if len(got) != 10 {
		t.Fatalf("got %d odd batches, want 10", len(got))
	}
}

func TestReopenAfterCleanShutdown(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testConfig(dir))
	for id := uint64(1); id <= 300; id++ { // several segments
		mustAppend(t, s, testBatch("a", uint32(id%3), id, 4, 700))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanFile)); err != nil {
		t.Fatalf("no clean-shutdown marker after Close: %v", err)
	}
	s = mustOpen(t, testConfig(dir))
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, cleanFile)); !os.IsNotExist(err) {
		t.Fatalf("clean marker still present while open: %v", err)
	}
	total := 0
	for q := uint32(0); q < 3; q++ {
		ids, corrupt := readAll(t, s, "a", q)
		if len(corrupt) > 0 {
			t.Fatalf("corrupt batches after clean reopen: %v", corrupt)
		}
		total += len(ids)
	}
	if total != 300 {
		t.Fatalf("read %d batches after reopen, want 300", total)
	}
	res := mustAppend(t, s, testBatch("a", 0, 301, 1, 10))
	if res.BaseOffset != 400 {
		t.Fatalf("next offset after reopen %d, want 400", res.BaseOffset)
	}
}

// lastSegment returns the path and size of the newest segment file.
func lastSegment(t *testing.T, dir string) (string, int64) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "commitlog", "*.seg"))
	slices.Sort(names)
	st, err := os.Stat(names[len(names)-1])
	if err != nil {
		t.Fatal(err)
	}
	return names[len(names)-1], st.Size()
}

func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SegmentSize = 1 << 20
	s := mustOpen(t, cfg)
	for id := uint64(1); id <= 10; id++ {
		mustAppend(t, s, testBatch("t", 0, id, 1, 500))
	}
	s.crash()
	// A write torn half-way: the last record loses its second half.
	path, size := lastSegment(t, dir)
	if err := os.Truncate(path, size-300); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, cfg)
	ids, corrupt := readAll(t, s, "t", 0)
	if !slices.Equal(ids, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}) || len(corrupt) > 0 {
		t.Fatalf("after torn tail read %v, corrupt %v", ids, corrupt)
	}
	if _, cut := lastSegment(t, dir); cut != size-int64(len(payloadFor(0, 500)))-int64(record.HeaderSize+1) {
		t.Fatalf("segment is %d bytes after recovery, want the torn record cut (%d)", cut, size-int64(500+record.HeaderSize+1))
	}
	if res := mustAppend(t, s, testBatch("t", 0, 11, 1, 500)); res.BaseOffset != 9 {
		t.Fatalf("append after cut got offset %d, want 9", res.BaseOffset)
	}
	s.Close()
	s = mustOpen(t, cfg)
	defer s.Close()
	if ids, _ := readAll(t, s, "t", 0); len(ids) != 10 || ids[9] != 11 {
		t.Fatalf("after reopen read %v", ids)
	}
}

func TestGarbageTailIsCut(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s := mustOpen(t, cfg)
	mustAppend(t, s, testBatch("t", 0, 1, 1, 100))
	s.crash()
	path, size := lastSegment(t, dir)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte(strings.Repeat("\x00garbage", 100)))
	f.Close()
	s = mustOpen(t, cfg)
	defer s.Close()
	if _, got := lastSegment(t, dir); got != size {
		t.Fatalf("segment %d bytes after recovery, want %d", got, size)
	}
	if ids, _ := readAll(t, s, "t", 0); !slices.Equal(ids, []uint64{1}) {
		t.Fatalf("read %v", ids)
	}
}

// flipBit flips one bit of the record at pos in the commit log of dir.
func flipBit(t *testing.T, dir string, pos int64, at int64) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "commitlog", "*.seg"))
	slices.Sort(names)
	for i := len(names) - 1; i >= 0; i-- {
		var start int64
		if _, err := fmtSscan(filepath.Base(names[i]), &start); err != nil {
			t.Fatal(err)
		}
		if start <= pos {
			f, err := os.OpenFile(names[i], os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := make([]byte, 1)
			f.ReadAt(b, pos-start+at)
			b[0] ^= 0x10
			f.WriteAt(b, pos-start+at)
			return
		}
	}
	t.Fatalf("no segment holds %d", pos)
}

func TestBitFlipInMiddleIsNeverServed(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s := mustOpen(t, cfg)
	var positions []int64
	for id := uint64(1); id <= 30; id++ {
		positions = append(positions, mustAppend(t, s, testBatch("t", 0, id, 2, 900)).Pos)
	}
	// Flip a payload bit of batch 10 while the store is open: reads see it.
	flipBit(t, dir, positions[9], record.HeaderSize+1+400)
	_, err := s.Read("t", 0, 18, ReadOptions{})
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("read of flipped batch: %v, want *CorruptError", err)
	}
	if !strings.HasSuffix(ce.File, commitlog.SegmentName(positions[9]-ce.Offset)) || ce.Pos != positions[9] || ce.Next != 20 {
		t.Fatalf("corrupt error names %s byte %d pos %d next %d", ce.File, ce.Offset, ce.Pos, ce.Next)
	}
	if !strings.Contains(err.Error(), ce.File) {
		t.Fatalf("error %q does not name the file", err)
	}
	// Reads before it stop short of it; reads after it work.
	res, err := s.Read("t", 0, 0, ReadOptions{MaxBatches: 100})
	if err != nil || len(res.Batches) != 9 || res.Next != 18 {
		t.Fatalf("read from 0: %d batches, next %d, %v", len(res.Batches), res.Next, err)
	}
	ids, corrupt := readAll(t, s, "t", 0)
	if len(ids) != 29 || len(corrupt) != 1 {
		t.Fatalf("read %d good and %d corrupt batches, want 29 and 1", len(ids), len(corrupt))
	}
	if got := s.m.corruptRecords.Get(); got != 1 {
		t.Fatalf("corrupt records metric %d, want 1 (counted once)", got)
	}
	s.Close()
	// After a crash whose replay covers the flipped record, it is found by
	// the scan, skipped, and the records after it survive.
	if err := os.Remove(filepath.Join(dir, checkpointFile)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, cleanFile))
	s = mustOpen(t, cfg)
	defer s.Close()
	ids, corrupt = readAll(t, s, "t", 0)
	if len(ids) != 29 || len(corrupt) != 0 || s.m.corruptRecords.Get() != 1 {
		t.Fatalf("after replay read %d good, %d corrupt, metric %d; want 29, 0 (skipped at recovery), 1",
			len(ids), len(corrupt), s.m.corruptRecords.Get())
	}
}

func TestConcurrentAppendsShareFsyncs(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SegmentSize = 1 << 20
	s := mustOpen(t, cfg)
	defer s.Close()
	const writers, each = 32, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.Append(context.Background(), testBatch("t", uint32(w%4), uint64(w*each+i), 1, 2000)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for q := uint32(0); q < 4; q++ {
		ids, _ := readAll(t, s, "t", q)
		total += len(ids)
	}
	if total != writers*each {
		t.Fatalf("read %d batches, want %d", total, writers*each)
	}
	fsyncs := histogramCount(t, s, "sluice_store_group_commit_batches_count")
	if fsyncs >= writers*each {
		t.Fatalf("%d fsyncs for %d concurrent appends: no group commit", fsyncs, writers*each)
	}
	t.Logf("%d appends acknowledged by %d fsyncs", writers*each, fsyncs)
}

func TestOffsetForTimeAndKeys(t *testing.T) {
	cfg := testConfig(t.TempDir())
	now := time.UnixMilli(1_000_000)
	var mu sync.Mutex
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := mustOpen(t, cfg)
	defer s.Close()
	for id := uint64(0); id < 10; id++ {
		mu.Lock()
		now = time.UnixMilli(1_000_000 + int64(id)*1000)
		mu.Unlock()
		b := testBatch("orders", 0, id, 5, 100)
		b.Keys = []record.KeyRef{{Index: 2, Hash: record.KeyHash("orders", "order-"+string(rune('a'+id%3)))}}
		mustAppend(t, s, b)
	}
	for _, tc := range []struct {
		ms   int64
		want int64
	}{{0, 0}, {1_000_000, 0}, {1_000_001, 5}, {1_004_000, 20}, {1_009_000, 45}, {1_009_001, 50}} {
		got, err := s.OffsetForTime("orders", 0, tc.ms)
		if err != nil || got != tc.want {
			t.Errorf("OffsetForTime(%d) = %d, %v; want %d", tc.ms, got, err, tc.want)
		}
	}
	hits, err := s.LookupKey("orders", "order-b", 0)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, h := range hits {
		offs = append(offs, h.Offset)
	}
	if want := []int64{7, 22, 37}; !slices.Equal(offs, want) {
		t.Fatalf("LookupKey order-b = %v, want %v", offs, want)
	}
	if hits, _ := s.LookupKey("other", "order-b", 0); len(hits) != 0 {
		t.Fatalf("key found in the wrong topic: %v", hits)
	}
}

func TestValidateConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "store: dir is required"},
		{Config{Dir: "x", Flush: "maybe"}, `store: flush is "maybe", want sync or async`},
		{Config{Dir: "x", SegmentSize: 100}, "store: segment size 100 is below 4096 bytes"},
		{Config{Dir: "x", DiskFullRatio: 2}, "store: disk full ratio 2 is not between 0 and 1"},
		{Config{Dir: "x", FlushInterval: -1}, "store: flush interval -1ns is negative"},
	} {
		err := tc.cfg.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if err := (&Config{Dir: "x"}).Validate(); err != nil {
		t.Errorf("minimal config rejected: %v", err)
	}
	if err := ValidTopic("../etc"); err == nil {
		t.Error("topic ../etc accepted")
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	cfg := testConfig(t.TempDir())
	s := mustOpen(t, cfg)
	defer s.Close()
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "held by another process") {
		t.Fatalf("second open: %v", err)
	}
}
