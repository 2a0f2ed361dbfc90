package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/store/record"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

// testConfig is a small, quiet store in dir.
func testConfig(dir string) Config {
	return Config{
		Dir:                 dir,
		SegmentSize:         64 << 10,
		MaintenanceInterval: 10 * time.Millisecond,
		CheckpointInterval:  time.Hour,
		DiskFullRatio:       1,
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func mustOpen(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

// payloadFor is the deterministic payload of batch id, so a reader can tell
// an intact batch from a damaged one.
func payloadFor(id uint64, size int) []byte {
	p := make([]byte, size)
	binary.LittleEndian.PutUint64(p, id)
	for i := 8; i < size; i++ {
		p[i] = byte(id*31 + uint64(i)*7)
	}
	return p
}

// idOf checks a payload made by payloadFor and returns its id.
func idOf(p []byte) (uint64, error) {
	if len(p) < 8 {
		return 0, fmt.Errorf("payload of %d bytes", len(p))
	}
	id := binary.LittleEndian.Uint64(p)
	want := payloadFor(id, len(p))
	for i := range p {
		if p[i] != want[i] {
			return id, fmt.Errorf("batch %d: byte %d is %#x, want %#x", id, i, p[i], want[i])
		}
	}
	return id, nil
}

func testBatch(topic string, queue uint32, id uint64, count uint32, size int) *Batch {
	return &Batch{Topic: topic, Queue: queue, Count: count, ProducerID: 7, Sequence: id,
		FirstBornMs: 1000, LastBornMs: 2000, Payload: payloadFor(id, size)}
}

func mustAppend(t testing.TB, s *Store, b *Batch) Appended {
	t.Helper()
	res, err := s.Append(context.Background(), b)
	if err != nil {
		t.Fatalf("append %s/%d: %v", b.Topic, b.Queue, err)
	}
	return res
}

// readAll reads a whole queue and returns the batch ids in order; corrupt
// batches are skipped and returned separately.
func readAll(t testing.TB, s *Store, topic string, queue uint32) (ids []uint64, corrupt []*CorruptError) {
	t.Helper()
	lo, hi, err := s.QueueRange(topic, queue)
	if err != nil {
		t.Fatalf("range %s/%d: %v", topic, queue, err)
	}
	for off := lo; off < hi; {
		res, err := s.Read(topic, queue, off, ReadOptions{})
		var ce *CorruptError
		if errors.As(err, &ce) {
			corrupt = append(corrupt, ce)
			off = ce.Next
			continue
		}
		if err != nil {
			t.Fatalf("read %s/%d at %d: %v", topic, queue, off, err)
		}
		for _, b := range res.Batches {
			id, err := idOf(b.Payload)
			if err != nil {
				t.Fatalf("read %s/%d at %d: %v", topic, queue, b.BaseOffset, err)
			}
			ids = append(ids, id)
		}
		if res.Next == off {
			t.Fatalf("read %s/%d at %d made no progress (range %d..%d)", topic, queue, off, lo, hi)
		}
		off = res.Next
	}
	return ids, corrupt
}

// crash abandons the store as a killed process would: no checkpoint, no
// clean marker; the files keep what was written.
func (s *Store) crash() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	s.wg.Wait()
	s.closeFiles()
}

var _ = record.Magic
var _ vfs.FS = vfs.Default

func fmtSscan(name string, start *int64) (int, error) {
	return fmt.Sscanf(name, "%020d.seg", start)
}

// histogramCount reads one sample of the store's metrics by name.
func histogramCount(t testing.TB, s *Store, name string) int {
	t.Helper()
	var sb strings.Builder
	s.Metrics().WritePrometheus(&sb)
	for _, line := range strings.Split(sb.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatalf("metric %s not found in:\n%s", name, sb.String())
	return 0
}
