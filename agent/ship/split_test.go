package ship

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/agent/spool"
)

// TestSpoolSplitsLargeBatches: a batch larger than a small spool takes
// in one record is spooled in pieces, not refused, and every record is
// sent in order once the Sender answers.
func TestSpoolSplitsLargeBatches(t *testing.T) {
	// max_size 256 KiB: records of at most 32 KiB.
	sp, err := spool.Open(spool.Config{Dir: t.TempDir(), MaxSize: 256 << 10, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	g := &gateSender{}
	s, err := New(Config{Sender: g, Spool: sp, MaxInflight: 1024, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	if err := s.Emit(context.Background(), records("logs", "k", 0, 20), nil); err != nil {
		t.Fatal(err)
	}
	big := records("logs", "k", 20, 1000)
	for i := range big {
		big[i].Body = append(big[i].Body, strings.Repeat(" padding", 12)...) // ~100-byte lines: ~150 KB encoded
	}
	if n := len(encodeBatch(nil, big)); n <= 32<<10 {
		t.Fatalf("the batch encodes to %d bytes; the test needs more than the spool's record limit", n)
	}
	var a acks
	if err := s.Emit(context.Background(), big, a.fn(len(big))); err != nil {
		t.Fatalf("emit of a batch larger than a spool record: %v", err)
	}
	if a.count() != len(big) || s.m.spooled.Get() != uint64(len(big)) {
		t.Fatalf("%d records acked, %d spooled, want %d", a.count(), s.m.spooled.Get(), len(big))
	}
	g.release()
	waitFor(t, "the spool to drain", func() bool { return sp.Len() == 0 && s.inflight.Load() == 0 })
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.sent) != 1020 {
		t.Fatalf("%d records sent, want 1020", len(g.sent))
	}
	for i, b := range g.sent {
		n, err := strconv.Atoi(strings.Fields(strings.TrimPrefix(b, "line-"))[0])
		if err != nil || n != i {
			t.Fatalf("record %d sent is %.20q", i, b)
		}
	}
}
