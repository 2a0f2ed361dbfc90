package spool

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

func nextEntry(t *testing.T, s *Spool) Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e, err := s.NextEntry(ctx)
	if err != nil {
		t.Fatalf("next entry: %v", err)
	}
	return e
}

func TestEntrySeqAckAndRewind(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, SegmentSize: 4096, MaxSize: 1 << 20})
	defer s.Close()
	appendN(t, s, 0, 300)
	var last Entry
	for i := range 100 {
		e := nextEntry(t, s)
		if e.Seq != uint64(i) || !bytes.Equal(e.Data, entry(i)) || e.Appended.IsZero() {
			t.Fatalf("entry %d: seq %d data %.20q appended %v", i, e.Seq, e.Data, e.Appended)
		}
		last = e
	}
	if err := s.Ack(last); err != nil {
		t.Fatal(err)
	}
	var late Entry
	for range 20 {
		late = nextEntry(t, s)
	}
	// A send failed: the unacknowledged records come again, in order.
	s.Rewind()
	for i := 100; i < 300; i++ {
		if e := nextEntry(t, s); e.Seq != uint64(i) || !bytes.Equal(e.Data, entry(i)) {
			t.Fatalf("after rewind: seq %d %.20q, want %d", e.Seq, e.Data, i)
		}
	}
	if s.Len() != 200 {
		t.Fatalf("len %d, want 200", s.Len())
	}
	// An acknowledgement read before the rewind still counts.
	if err := s.Ack(late); err != nil || s.Len() != 180 {
		t.Fatalf("late ack: %v, len %d, want 180", err, s.Len())
	}
	if got := s.m.acked.Get(); got != 120 {
		t.Fatalf("acked %d, want 120", got)
	}
	if err := s.Ack(Entry{Seq: 1000, end: 1 << 40}); !errors.Is(err, ErrNotRead) {
		t.Fatalf("ack of a record never read: %v", err)
	}
}

// The checkpoint is persisted while the spool runs: a process that dies
// without Close resumes there, acknowledged segments gone, and sequence
// numbers go on.
func TestCheckpointPersistedWithoutClose(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SegmentSize: 4096, MaxSize: 1 << 20, CheckpointInterval: 10 * time.Millisecond}
	s := open(t, cfg)
	appendN(t, s, 0, 400)
	var e Entry
	for range 250 {
		e = nextEntry(t, s)
	}
	if err := s.Ack(e); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, checkpointName)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(cp)
		if pos, _, err := decodeCheckpoint(b); err == nil && pos == e.end {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("checkpoint not persisted within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// "Crash": copy the files as they are now and open the copy.
	crashed := t.TempDir()
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(crashed, filepath.Base(n)), b, 0o644)
	}
	s.Close()
	firstSeg := filepath.Join(crashed, "00000000000000000000.seg")
	if _, err := os.Stat(firstSeg); err == nil {
		t.Fatal("the first segment, wholly acknowledged, was not deleted")
	}
	cfg.Dir = crashed
	s = open(t, cfg)
	defer s.Close()
	if s.Len() != 150 {
		t.Fatalf("len after restart %d, want 150", s.Len())
	}
	for i := 250; i < 400; i++ {
		if e := nextEntry(t, s); e.Seq != uint64(i) || !bytes.Equal(e.Data, entry(i)) {
			t.Fatalf("after restart: seq %d %.20q, want %d", e.Seq, e.Data, i)
		}
	}
}

// syncWriter is a log sink safe for concurrent use.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// A reader racing drop_oldest only ever sees whole records, in order;
// the drops are counted and logged with how many and how old.
func TestDropOldestWhileReading(t *testing.T) {
	var logs syncWriter
	set := metrics.NewSet()
	s := open(t, Config{Dir: t.TempDir(), SegmentSize: 2048, MaxSize: 8192, WhenFull: WhenFullDropOldest,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: set})
	defer s.Close()
	const n = 3000
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := s.Append(context.Background(), entry(i)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	read, prev := 0, -1
	for prev < n-1 {
		e := nextEntry(t, s)
		var i int
		if _, err := fmtSscan(e.Data, &i); err != nil || !bytes.Equal(e.Data, entry(i)) {
			t.Fatalf("damaged or partial record %.30q", e.Data)
		}
		if i <= prev {
			t.Fatalf("record %d after %d", i, prev)
		}
		if e.Seq != uint64(i) {
			t.Fatalf("record %d has seq %d", i, e.Seq)
		}
		prev = i
		read++
		if read == 1 {
			// The writer laps the reader before it reads on: however
			// fast the machine, there are drops to race with.
			for deadline := time.Now().Add(10 * time.Second); s.m.dropped.Get() == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the writer never lapped a reader holding the first record")
				}
			}
		}
		if read%7 == 0 {
			time.Sleep(time.Millisecond) // a slow reader, so the writer laps it again
		}
		if err := s.Ack(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A record read but not yet acknowledged when its segment goes counts
	// as dropped: the count errs towards too many, never too few.
	dropped, acked := int(s.m.dropped.Get()), int(s.m.acked.Get())
	if dropped == 0 || dropped+acked != n || read < acked {
		t.Fatalf("read %d, acked %d, dropped %d: acked and dropped must add up to %d", read, acked, dropped, n)
	}
	out := logs.String()
	if !strings.Contains(out, "dropped the oldest records") || !strings.Contains(out, "oldest_age=") || !strings.Contains(out, "records=") {
		t.Fatalf("drops not logged with count and age:\n%.500s", out)
	}
	var prom bytes.Buffer
	set.WritePrometheus(&prom)
	if !strings.Contains(prom.String(), "sluice_agent_spool_dropped_records_total ") {
		t.Fatalf("dropped metric missing:\n%s", prom.String())
	}
}

// fmtSscan parses the number of an entry(i) payload.
func fmtSscan(b []byte, i *int) (int, error) {
	rest, ok := strings.CutPrefix(string(b), "entry-")
	num, _, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 {
		return 0, errors.New("not an entry")
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0, err
	}
	*i = n
	return 1, nil
}

func TestBlockedAppendHonoursContextAndCountsTime(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir(), SegmentSize: 2048, MaxSize: 4096})
	defer s.Close()
	for i := 0; s.Size()+int64(headerSize+len(entry(i))) <= 4096; i++ {
		appendN(t, s, i, 1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Append(ctx, entry(999)) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked append after cancel: %v", err)
	}
	if s.m.blocked.Get() <= 0 {
		t.Fatal("blocked seconds not counted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), entry(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

// Damage in an older segment is found when it is read: the record is
// skipped with a metric, the rest read.
func TestBitFlipInOlderSegmentSkippedOnRead(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, SegmentSize: 4096, MaxSize: 1 << 20})
	appendN(t, s, 0, 300)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	b, _ := os.ReadFile(segs[0])
	b[headerSize+len(entry(0))+headerSize+2] ^= 0x01 // entry 1's payload
	os.WriteFile(segs[0], b, 0o644)
	// And a length that cannot be right in the second segment.
	b2, _ := os.ReadFile(segs[1])
	b2[0], b2[1], b2[2], b2[3] = 0xff, 0xff, 0xff, 0x7f
	os.WriteFile(segs[1], b2, 0o644)
	s = open(t, Config{Dir: dir, SegmentSize: 4096, MaxSize: 1 << 20})
	defer s.Close()
	var got []int
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		e, err := s.NextEntry(ctx)
		cancel()
		if err != nil {
			break
		}
		var i int
		fmtSscan(e.Data, &i)
		got = append(got, i)
		s.Ack(e)
	}
	if len(got) == 0 || got[0] != 0 || got[1] != 2 || got[len(got)-1] != 299 {
		t.Fatalf("read %v", got)
	}
	if c := s.m.corrupt.Get(); c != 2 {
		t.Fatalf("corrupt skipped %d, want 2 (a record and a segment's rest)", c)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Dir: "d"}, ""},
		{Config{}, "dir is required"},
		{Config{Dir: "d", WhenFull: "panic"}, `when_full "panic"`},
		{Config{Dir: "d", MaxSize: -1}, "must not be negative"},
		{Config{Dir: "d", MaxSize: 1 << 20, SegmentSize: 1 << 20}, "at most half of max_size"},
		{Config{Dir: "d", MaxSize: 100}, "holds no record"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestRecordTooLarge(t *testing.T) {
	s := open(t, Config{Dir: t.TempDir(), SegmentSize: 4096, MaxSize: 1 << 20})
	defer s.Close()
	if err := s.Append(context.Background(), make([]byte, 4096)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("append above the segment size: %v", err)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir})
	defer s.Close()
	if s2, err := Open(Config{Dir: dir, Logger: quiet}); err == nil {
		s2.Close()
		t.Fatal("a second Open of the same spool succeeded")
	}
}

// Close while appenders and a reader are busy: every call returns (nil
// or ErrClosed), nothing panics, and what was acknowledged is there.
func TestCloseUnderLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SegmentSize: 2048, MaxSize: 8192, WhenFull: WhenFullDropOldest}
	s := open(t, cfg)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if err := s.Append(context.Background(), entry(w*100000+i)); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("append: %v", err)
					}
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			e, err := s.NextEntry(context.Background())
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					t.Errorf("next: %v", err)
				}
				return
			}
			if err := s.Ack(e); err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("ack: %v", err)
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = open(t, cfg)
	defer s.Close()
	if s.m.corrupt.Get() != 0 || s.m.tornTails.Get() != 0 {
		t.Fatalf("after close under load: corrupt %d, torn %d", s.m.corrupt.Get(), s.m.tornTails.Get())
	}
}

func TestMetricsExported(t *testing.T) {
	set := metrics.NewSet()
	s := open(t, Config{Dir: t.TempDir(), Metrics: set})
	defer s.Close()
	appendN(t, s, 0, 3)
	expect(t, s, 0, 2, true)
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, want := range []string{
		"sluice_agent_spool_size_bytes " + strconv.FormatInt(s.Size(), 10),
		"sluice_agent_spool_records 1",
		"sluice_agent_spool_appended_records_total 3",
		"sluice_agent_spool_acked_records_total 2",
		"sluice_agent_spool_dropped_records_total 0",
		"sluice_agent_spool_corrupt_skipped_total 0",
		"sluice_agent_spool_torn_tails_cut_total 0",
		"sluice_agent_spool_append_blocked_seconds_total 0",
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}
