package groups

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeQueues is an in-memory Queues: per queue, the store time of each
// offset, and a minimum below which retention removed messages.
type fakeQueues struct {
	mu     sync.Mutex
	topics map[string][]*fakeQueue
}

type fakeQueue struct {
	lo    int64
	times []int64 // times[off] is when offset off was stored (Unix ms)
}

func newFakeQueues() *fakeQueues { return &fakeQueues{topics: map[string][]*fakeQueue{}} }

func (f *fakeQueues) addTopic(name string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	qs := make([]*fakeQueue, n)
	for i := range qs {
		qs[i] = &fakeQueue{}
	}
	f.topics[name] = qs
}

func (f *fakeQueues) deleteTopic(name string) {
	f.mu.Lock()
	delete(f.topics, name)
	f.mu.Unlock()
}

// produce appends count messages stored at ms to a queue.
func (f *fakeQueues) produce(topic string, q uint32, count int, ms int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fq := f.topics[topic][q]
	for range count {
		fq.times = append(fq.times, ms)
	}
}

// trim makes retention remove every offset below lo.
func (f *fakeQueues) trim(topic string, q uint32, lo int64) {
	f.mu.Lock()
	f.topics[topic][q].lo = lo
	f.mu.Unlock()
}

func (f *fakeQueues) queue(topic string, q uint32) (*fakeQueue, error) {
	qs, ok := f.topics[topic]
	if !ok {
		return nil, fmt.Errorf("topic %s: %w", topic, ErrUnknownTopic)
	}
	if int(q) >= len(qs) {
		return nil, fmt.Errorf("topic %s has no queue %d", topic, q)
	}
	return qs[q], nil
}

func (f *fakeQueues) NumQueues(topic string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	qs, ok := f.topics[topic]
	if !ok {
		return 0, fmt.Errorf("topic %s: %w", topic, ErrUnknownTopic)
	}
	return len(qs), nil
}

func (f *fakeQueues) QueueRange(topic string, q uint32) (int64, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fq, err := f.queue(topic, q)
	if err != nil {
		return 0, 0, err
	}
	return fq.lo, int64(len(fq.times)), nil
}

func (f *fakeQueues) OffsetForTime(topic string, q uint32, ms int64) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fq, err := f.queue(topic, q)
	if err != nil {
		return 0, err
	}
	for off := fq.lo; off < int64(len(fq.times)); off++ {
		if fq.times[off] >= ms {
			return off, nil
		}
	}
	return int64(len(fq.times)), nil
}

func (f *fakeQueues) StoredAtMs(topic string, q uint32, off int64) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fq, err := f.queue(topic, q)
	if err != nil {
		return 0, err
	}
	if off < fq.lo || off >= int64(len(fq.times)) {
		return 0, fmt.Errorf("%s/%d: no offset %d", topic, q, off)
	}
	return fq.times[off], nil
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a coordinator over a fake store, with its directory and clock.
type env struct {
	t     *testing.T
	dir   string
	qs    *fakeQueues
	clock *fakeClock
	fs    vfs.FS
	c     *Coordinator
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), qs: newFakeQueues(), clock: newFakeClock(), fs: vfs.Default}
	e.qs.addTopic("t", 8)
	e.open()
	t.Cleanup(func() {
		if e.c != nil {
			e.c.Close()
		}
	})
	return e
}

func (e *env) config() Config {
	return Config{Dir: e.dir, Queues: e.qs, Now: e.clock.Now, FS: e.fs,
		Logger: slog.New(slog.DiscardHandler)}
}

func (e *env) open() {
	e.t.Helper()
	c, err := Open(e.config())
	if err != nil {
		e.t.Fatal(err)
	}
	e.c = c
}

// restart closes the coordinator and opens it again on the same directory.
func (e *env) restart() {
	e.t.Helper()
	if err := e.c.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.c = nil
	e.open()
}

func (e *env) join(r protocol.JoinGroup) protocol.Assignment {
	e.t.Helper()
	if r.Group == "" {
		r.Group = "g"
	}
	if r.Topic == "" {
		r.Topic = "t"
	}
	a, err := e.c.Join(context.Background(), r)
	if err != nil {
		e.t.Fatalf("join %+v: %v", r, err)
	}
	return a
}

func (e *env) heartbeat(member string) protocol.Assignment {
	e.t.Helper()
	a, err := e.c.Heartbeat(context.Background(), protocol.Heartbeat{Group: "g", Topic: "t", MemberID: member})
	if err != nil {
		e.t.Fatalf("heartbeat %s: %v", member, err)
	}
	return a
}

func (e *env) commit(member string, offsets ...protocol.QueuePosition) error {
	return e.c.Commit(context.Background(), protocol.CommitOffsets{Group: "g", Topic: "t", MemberID: member, Offsets: offsets})
}

func (e *env) offsets() map[uint32]int64 {
	e.t.Helper()
	resp, err := e.c.Offsets(protocol.FetchOffsets{Group: "g", Topic: "t"})
	if err != nil {
		e.t.Fatal(err)
	}
	return positions(resp.Offsets)
}

// fileOffsets reads the committed offsets of g on t from the state file as
// it is on disk now.
func (e *env) fileOffsets() map[uint32]int64 {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, stateFileName))
	if err != nil {
		e.t.Fatal(err)
	}
	subs, err := decodeState(b)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range subs {
		if s.Group == "g" && s.Topic == "t" {
			m := map[uint32]int64{}
			for _, o := range s.Offsets {
				m[o.Queue] = o.Offset
			}
			return m
		}
	}
	return nil
}

func positions(ps []protocol.QueuePosition) map[uint32]int64 {
	m := map[uint32]int64{}
	for _, p := range ps {
		m[p.Queue] = p.Offset
	}
	return m
}

func pos(q uint32, off int64) protocol.QueuePosition {
	return protocol.QueuePosition{Queue: q, Offset: off}
}

func wantCode(t *testing.T, err error, code protocol.Code) {
	t.Helper()
	if got := protocol.CodeOf(err); got != code {
		t.Fatalf("error %v: code %v, want %v", err, got, code)
	}
}
