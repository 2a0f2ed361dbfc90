package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/ship"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

// The spool is what the shipper spools to.
var _ ship.Spool = (*Spool)(nil)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T, cfg Config) *Spool {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func entry(i int) []byte { return fmt.Appendf(nil, "entry-%06d-%s", i, strings.Repeat("x", i%200)) }

func appendN(t *testing.T, s *Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Append(context.Background(), entry(i)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// next reads one entry, failing the test after a second without one.
func next(t *testing.T, s *Spool) ([]byte, func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	data, ack, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	return data, ack
}

func expect(t *testing.T, s *Spool, from, n int, ack bool) {
	t.Helper()
	for i := from; i < from+n; i++ {
		data, a := next(t, s)
		if string(data) != string(entry(i)) {
			t.Fatalf("read %.20q, want %.20q", data, entry(i))
		}
		if ack {
			if err := a(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func segments(t *testing.T, dir string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	return len(m)
}

func TestRoundTripAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, SegmentSize: 4096, MaxSize: 1 << 20})
	defer s.Close()
	appendN(t, s, 0, 500)
	if s.Len() != 500 || segments(t, dir) < 10 {
		t.Fatalf("len %d, %d segments", s.Len(), segments(t, dir))
	}
	expect(t, s, 0, 500, true)
	if s.Len() != 0 || segments(t, dir) != 1 {
		t.Fatalf("after acking all: len %d, %d segments left", s.Len(), segments(t, dir))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("next on an empty spool: %v", err)
	}
}

func TestNextWaitsForAppend(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir()})
	defer s.Close()
	got := make(chan string, 1)
	go func() {
		data, _, err := s.Next(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(data)
	}()
	time.Sleep(20 * time.Millisecond)
	appendN(t, s, 7, 1)
	if g := <-got; g != string(entry(7)) {
		t.Fatalf("got %q", g)
	}
}

func TestRestartReplaysUnacked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, SegmentSize: 4096})
	appendN(t, s, 0, 300)
	before := segments(t, dir)
	expect(t, s, 0, 100, true) // acked
	expect(t, s, 100, 50, false)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The checkpoint is on disk and the fully acknowledged segments are gone.
	if _, err := os.Stat(filepath.Join(dir, checkpointName)); err != nil {
		t.Fatalf("checkpoint after close: %v", err)
	}
	if after := segments(t, dir); after >= before {
		t.Fatalf("%d segments before acking 100 entries, %d after: acked segments must be deleted", before, after)
	}
	s = open(t, Config{Dir: dir, SegmentSize: 4096})
	defer s.Close()
	if s.Len() != 200 {
		t.Fatalf("len after restart %d, want 200", s.Len())
	}
	expect(t, s, 100, 200, true) // read but unacked entries come again
}

func TestBlockWhenFull(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir(), SegmentSize: 2048, MaxSize: 8192})
	defer s.Close()
	i := 0
	for ; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := s.Append(ctx, entry(i))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if s.Size() > 8192 {
		t.Fatalf("spool grew to %d bytes, max 8192", s.Size())
	}
	// Acknowledging frees a segment and unblocks the append.
	done := make(chan error, 1)
	go func() { done <- s.Append(context.Background(), entry(i)) }()
	expect(t, s, 0, i/2, true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expect(t, s, i/2, i-i/2+1, true)
}

func TestDropOldestWhenFull(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, SegmentSize: 2048, MaxSize: 8192, WhenFull: "drop_oldest"})
	defer s.Close()
	appendN(t, s, 0, 1000)
	if s.Size() > 8192 {
		t.Fatalf("spool grew to %d bytes", s.Size())
	}
	dropped := s.m.dropped.Get()
	if dropped == 0 || int64(dropped)+s.Len() != 1000 {
		t.Fatalf("dropped %d, left %d: they must add up to 1000", dropped, s.Len())
	}
	// The newest are kept, in order, each whole.
	first := 1000 - int(s.Len())
	expect(t, s, first, int(s.Len()), true)
}

func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir})
	appendN(t, s, 0, 10)
	s.Close()
	seg, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(seg[0], os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3}) // half an entry
	f.Close()
	s = open(t, Config{Dir: dir})
	defer s.Close()
	if s.Len() != 10 || s.m.tornTails.Get() != 1 {
		t.Fatalf("len %d, torn tails cut %d after a torn tail, want 10 and 1", s.Len(), s.m.tornTails.Get())
	}
	expect(t, s, 0, 10, true)
	appendN(t, s, 10, 1) // appends go on after the cut
	expect(t, s, 10, 1, true)
}

func TestBitFlipInMiddleIsSkipped(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir})
	appendN(t, s, 0, 3)
	s.Close()
	seg, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	b, _ := os.ReadFile(seg[0])
	b[len(entry(0))+headerSize+headerSize+3] ^= 0x10 // a byte of entry 1's payload
	os.WriteFile(seg[0], b, 0o644)
	s = open(t, Config{Dir: dir})
	defer s.Close()
	expect(t, s, 0, 1, true)
	expect(t, s, 2, 1, true)
	if s.m.corrupt.Get() != 1 || s.Len() != 0 {
		t.Fatalf("corrupt %d, len %d", s.m.corrupt.Get(), s.Len())
	}
}

func TestFsyncFailureLeavesNoEntry(t *testing.T) {
	fs := vfs.NewFaultFS(vfs.Default)
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, FS: fs})
	defer s.Close()
	appendN(t, s, 0, 2)
	fs.Inject(func(op vfs.Op, name string) error {
		if op == vfs.OpSync {
			return errors.New("injected fsync failure")
		}
		return nil
	})
	if err := s.Append(context.Background(), entry(2)); err == nil {
		t.Fatal("append succeeded through a failing fsync")
	}
	fs.SetNoSpace(false)
	fs.Inject(nil)
	fs.SetNoSpace(true)
	if err := s.Append(context.Background(), entry(2)); err == nil {
		t.Fatal("append succeeded on a full disk")
	}
	fs.SetNoSpace(false)
	appendN(t, s, 2, 1)
	expect(t, s, 0, 3, true) // the failed appends left nothing behind
	if s.Len() != 0 {
		t.Fatalf("len %d", s.Len())
	}
}

func TestConcurrentAppends(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir(), SegmentSize: 1 << 14})
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if err := s.Append(context.Background(), fmt.Appendf(nil, "w%d-%d", w, i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	last := map[string]int{}
	for range 400 {
		data, ack := next(t, s)
		var w, i int
		fmt.Sscanf(string(data), "w%d-%d", &w, &i)
		k := fmt.Sprint(w)
		if prev, ok := last[k]; ok && i != prev+1 {
			t.Fatalf("writer %d: %d after %d", w, i, prev)
		}
		last[k] = i
		ack()
	}
}

func TestCheckpointCodec(t *testing.T) {
	pos, seq, err := decodeCheckpoint(encodeCheckpoint(123456, 42))
	if err != nil || pos != 123456 || seq != 42 {
		t.Fatalf("%d %d %v", pos, seq, err)
	}
	b := encodeCheckpoint(5, 1)
	b[0] ^= 1
	if _, _, err := decodeCheckpoint(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("flipped checkpoint: %v", err)
	}
}
