package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/broker/store/commitlog"
	"github.com/sluicehq/sluice/broker/store/cq"
	"github.com/sluicehq/sluice/broker/store/keyindex"
	"github.com/sluicehq/sluice/broker/store/record"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

// Batch is what a producer appends: one lz4-compressed batch of messages
// with the summary the store indexes without decompressing it.
type Batch struct {
	Topic       string
	Queue       uint32
	Count       uint32 // messages in Payload, at least 1
	Attr        record.Attr
	ProducerID  uint64
	Sequence    uint64
	FirstBornMs int64
	LastBornMs  int64
	DeliverAtMs int64
	TagBloom    uint64          // record.TagBloom of the messages' tags
	Keys        []record.KeyRef // record.KeyHash of keyed messages
	Payload     []byte          // stored exactly as given

	// PayloadCRC is record.PayloadCRC(Payload) when HasPayloadCRC is set,
	// e.g. because the server already checked it on receipt; otherwise
	// Append computes it, before taking the append lock either way.
	PayloadCRC    uint32
	HasPayloadCRC bool
}

// Appended says where a batch went.
type Appended struct {
	BaseOffset int64 // queue offset of the batch's first message
	Pos        int64 // position in the commit log
	StoredAtMs int64
}

// QueueID names one queue of a topic.
type QueueID struct {
	Topic string
	Queue uint32
}

func (q QueueID) String() string { return fmt.Sprintf("%s/%d", q.Topic, q.Queue) }

var topicName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// ValidTopic reports whether name can be a topic: it becomes a directory
// name, so only letters, digits, '.', '_' and '-', at most 200 of them.
func ValidTopic(name string) error {
	if !topicName.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("invalid topic name %q: use 1 to 200 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

// queue is the store's state of one queue.
type queue struct {
	id  QueueID
	cq  *cq.Queue
	dir string
	// assignNext and lastStoredMs are guarded by Store.mu: offsets are
	// assigned at write time, entries reach cq when they become visible.
	assignNext   int64
	lastStoredMs int64
	// deleted is set under Store.dispatchMu when the topic is deleted, so
	// that pending entries are not dispatched to its closed files.
	deleted bool
}

// pending is a written record waiting to become visible (sync mode).
type pending struct {
	q     *queue
	entry cq.Entry
	keys  [2]int // range of Store.pendingKeys
}

// commitGroup is the set of appends one fsync acknowledges.
type commitGroup struct {
	done    chan struct{}
	err     error
	batches int
}

// Store is the broker's persistent log. All methods are safe for
// concurrent use.
type Store struct {
	cfg  Config
	fs   vfs.FS
	log  *commitlog.Log
	keys *keyindex.Index
	lock io.Closer
	m    *storeMetrics
	lg   *slog.Logger

	mu          sync.Mutex // the append lock: offsets, log writes, pending
	queues      map[QueueID]*queue
	pend        []pending
	pendingKeys []record.KeyRef
	group       *commitGroup
	failed      error
	closed      bool
	hdrBuf      []byte

	dispatchMu sync.Mutex // orders cq appends and key index adds with checkpoints
	visibleEnd atomic.Int64
	durableEnd atomic.Int64

	diskFull atomic.Pointer[error] // set while appends are refused for space
	writers  atomic.Int32          // appends between entering and leaving the append lock
	appends  atomic.Int64          // appends written, for the flusher to see a group grow

	// Owned by the flush goroutine: what it dispatches after an fsync.
	flushPend []pending
	flushKeys []record.KeyRef

	retentionMu  sync.Mutex // one retention pass at a time
	checkpointMu sync.Mutex // one checkpoint at a time

	corruptMu   sync.Mutex
	corruptSeen map[int64]struct{}

	kick chan struct{}
	quit chan struct{}
	wg   sync.WaitGroup
}

// Open opens the store in cfg.Dir, creating it if needed, and recovers it
// if the last process did not shut down cleanly.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{
		cfg:         cfg,
		fs:          cfg.FS,
		lg:          cfg.Logger.With("component", "store", "dir", cfg.Dir),
		queues:      map[QueueID]*queue{},
		corruptSeen: map[int64]struct{}{},
		kick:        make(chan struct{}, 1),
		quit:        make(chan struct{}),
		group:       &commitGroup{done: make(chan struct{})},
	}
	if err := s.fs.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}
	lock, err := s.fs.Lock(filepath.Join(cfg.Dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", cfg.Dir, err)
	}
	s.lock = lock
	s.m = newStoreMetrics(s, cfg.Metrics)
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("recover store %s: %w", cfg.Dir, err)
	}
	s.checkDisk()
	s.wg.Add(2)
	go s.flushLoop()
	go s.maintainLoop()
	return s, nil
}

// Append stores b and returns where it went. In sync mode it returns once
// the batch is durable and visible to readers; in async mode once it is
// written. ctx bounds the wait for the fsync only: a batch already written
// may still become durable after ctx is done.
func (s *Store) Append(ctx context.Context, b *Batch) (Appended, error) {
	if err := ValidTopic(b.Topic); err != nil {
		return Appended{}, err
	}
	if full := s.diskFull.Load(); full != nil {
		s.m.appendErrors.Inc()
		return Appended{}, *full
	}
	if err := ctx.Err(); err != nil {
		return Appended{}, err
	}
	crc := b.PayloadCRC
	if !b.HasPayloadCRC {
		crc = record.PayloadCRC(b.Payload)
	}
	s.writers.Add(1)
	s.mu.Lock()
	res, g, err := s.appendLocked(b, crc)
	s.mu.Unlock()
	last := s.writers.Add(-1) == 0
	if err != nil {
		s.m.appendErrors.Inc()
		return Appended{}, err
	}
	s.m.appendedBytes.Add(int(len(b.Payload)))
	s.m.appendedRecords.Inc()
	s.m.appendedMessages.Add(int(b.Count))
	if g == nil {
		return res, nil
	}
	// Only the last of the appends writing at once wakes the flusher, so
	// that an fsync starts with every batch that was about to be written.
	if last {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	select {
	case <-g.done:
		if g.err != nil {
			return Appended{}, g.err
		}
		return res, nil
	case <-ctx.Done():
		return Appended{}, fmt.Errorf("wait for fsync: %w", ctx.Err())
	}
}

// appendLocked writes the record and, in sync mode, returns the commit
// group whose fsync acknowledges it.
func (s *Store) appendLocked(b *Batch, payloadCRC uint32) (Appended, *commitGroup, error) {
	if s.closed {
		return Appended{}, nil, ErrClosed
	}
	if s.failed != nil {
		return Appended{}, nil, fmt.Errorf("%w: %w", ErrFailed, s.failed)
	}
	q, err := s.queueLocked(QueueID{b.Topic, b.Queue}, true)
	if err != nil {
		return Appended{}, nil, err
	}
	h := record.Header{
		Attr: b.Attr, Topic: b.Topic, Queue: b.Queue, Count: b.Count,
		BaseOffset: q.assignNext, ProducerID: b.ProducerID, Sequence: b.Sequence,
		FirstBornMs: b.FirstBornMs, LastBornMs: b.LastBornMs,
		StoredAtMs: max(s.cfg.Now().UnixMilli(), q.lastStoredMs), DeliverAtMs: b.DeliverAtMs,
		TagBloom: b.TagBloom, Keys: b.Keys,
	}
	if err := h.Validate(len(b.Payload)); err != nil {
		return Appended{}, nil, fmt.Errorf("append to %s/%d: %w", b.Topic, b.Queue, err)
	}
	s.hdrBuf = record.AppendHeader(s.hdrBuf[:0], &h, len(b.Payload))
	record.SealWithCRC(s.hdrBuf, payloadCRC, len(b.Payload))
	pos, err := s.log.Append(s.hdrBuf, b.Payload)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			s.setDiskFull(fmt.Errorf("%w: %w", ErrDiskFull, err))
			return Appended{}, nil, fmt.Errorf("append to %s/%d: %w: %w", b.Topic, b.Queue, ErrDiskFull, err)
		}
		return Appended{}, nil, fmt.Errorf("append to %s/%d: %w", b.Topic, b.Queue, err)
	}
	q.assignNext += int64(b.Count)
	q.lastStoredMs = h.StoredAtMs
	p := pending{q: q, entry: cq.Entry{
		BaseOffset: h.BaseOffset, Pos: pos, Size: uint32(h.Size(len(b.Payload))), Count: b.Count,
		TagBloom: b.TagBloom, StoredAtMs: h.StoredAtMs, Attr: b.Attr,
	}}
	res := Appended{BaseOffset: h.BaseOffset, Pos: pos, StoredAtMs: h.StoredAtMs}
	if s.cfg.Flush == FlushAsync {
		// Async: visible as soon as written; the flush loop only fsyncs.
		p.keys = [2]int{0, len(b.Keys)}
		s.dispatch([]pending{p}, b.Keys, pos+int64(p.entry.Size))
		return res, nil, nil
	}
	p.keys = [2]int{len(s.pendingKeys), len(s.pendingKeys) + len(b.Keys)}
	s.pendingKeys = append(s.pendingKeys, b.Keys...)
	s.pend = append(s.pend, p)
	s.group.batches++
	s.appends.Add(1)
	return res, s.group, nil
}

// queueLocked returns the state of id, creating it when create is set.
func (s *Store) queueLocked(id QueueID, create bool) (*queue, error) {
	if q := s.queues[id]; q != nil {
		return q, nil
	}
	if !create {
		return nil, fmt.Errorf("%s: %w", id, ErrUnknownQueue)
	}
	dir := filepath.Join(s.cfg.Dir, "cq", id.Topic, fmt.Sprint(id.Queue))
	c, _, err := cq.Open(s.fs, dir, s.cfg.CQEntriesPerFile)
	if err != nil {
		return nil, err
	}
	q := &queue{id: id, cq: c, dir: dir, assignNext: c.Next(), lastStoredMs: c.LastStoredMs()}
	s.queues[id] = q
	return q, nil
}

// dispatch makes written records visible: their consume-queue entries and
// keys (p.keys index keys), then the visible end of the log. Checkpoints
// take dispatchMu, so they see queues and visible end agree. A failure here
// leaves the record in the log, where recovery finds it again, so it is
// logged rather than failing the append.
func (s *Store) dispatch(ps []pending, keys []record.KeyRef, visible int64) {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	for _, p := range ps {
		if p.q.deleted {
			continue
		}
		if err := p.q.cq.Append(p.entry); err != nil {
			s.lg.Error("consume queue append; recovery will rebuild it", "queue", p.q.id, "err", err)
		}
		for _, k := range keys[p.keys[0]:p.keys[1]] {
			s.keys.Add(keyindex.Entry{Hash: k.Hash, Pos: p.entry.Pos, Index: k.Index})
		}
	}
	s.visibleEnd.Store(visible)
}

// flushLoop owns fsync. In sync mode it runs one fsync per commit group:
// appends that arrive while an fsync runs form the next group, so under
// load one fsync acknowledges many batches. In async mode it fsyncs every
// FlushInterval.
func (s *Store) flushLoop() {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.cfg.Flush == FlushAsync {
		t := time.NewTicker(s.cfg.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.quit:
			s.flushOnce()
			return
		case <-s.kick:
		case <-tick:
		}
		s.flushOnce()
	}
}

// flushOnce fsyncs everything written so far and acknowledges the group.
func (s *Store) flushOnce() {
	if s.cfg.Flush == FlushSync {
		s.gatherGroup()
	}
	s.mu.Lock()
	g := s.group
	if s.cfg.Flush == FlushSync && g.batches == 0 {
		s.mu.Unlock()
		return
	}
	s.group = &commitGroup{done: make(chan struct{})}
	s.mu.Unlock()

	start := time.Now()
	end, err := s.log.Sync()
	s.m.fsyncSeconds.UpdateDuration(start)
	if g.batches > 0 {
		s.m.groupCommit.Update(float64(g.batches))
	}

	s.mu.Lock()
	if err != nil {
		if s.failed == nil {
			s.lg.Error("fsync failed; appends are refused until the store is reopened", "err", err)
		}
		s.failed = err
		g.err = fmt.Errorf("%w: %w", ErrFailed, err)
		// Pending records are not acknowledged; recovery decides about them.
		s.pend, s.pendingKeys = s.pend[:0], s.pendingKeys[:0]
		s.mu.Unlock()
		close(g.done)
		return
	}
	s.durableEnd.Store(end)
	// Take the now durable records out of the pending list, and dispatch
	// them without holding the append lock.
	n := 0
	for n < len(s.pend) && s.pend[n].entry.Pos < end {
		n++
	}
	s.flushPend = append(s.flushPend[:0], s.pend[:n]...)
	s.flushKeys = s.flushKeys[:0]
	for i := range s.flushPend {
		p := &s.flushPend[i]
		k := s.pendingKeys[p.keys[0]:p.keys[1]]
		p.keys = [2]int{len(s.flushKeys), len(s.flushKeys) + len(k)}
		s.flushKeys = append(s.flushKeys, k...)
	}
	s.pend = append(s.pend[:0], s.pend[n:]...)
	if len(s.pend) == 0 {
		s.pendingKeys = s.pendingKeys[:0]
	}
	s.mu.Unlock()
	if s.cfg.Flush == FlushSync {
		s.dispatch(s.flushPend, s.flushKeys, end)
	}
	close(g.done)
}

// gatherGroup lets appends that are runnable but not yet running join the
// group before its fsync starts. The ack of the previous group wakes all its
// appenders at once, but on a machine with fewer cores than appenders they
// run one after the other, and without this the first of them would start
// an fsync alone and the rest would wait a whole fsync for the next one.
// Yielding costs microseconds; an fsync costs hundreds of them.
func (s *Store) gatherGroup() {
	for range 8 {
		before := s.appends.Load()
		runtime.Gosched()
		if s.appends.Load() == before && s.writers.Load() == 0 {
			return
		}
	}
}

// Close flushes, writes a checkpoint and a clean-shutdown marker, and
// closes every file. Appends waiting for an fsync get it first.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	s.wg.Wait()
	var err error
	s.mu.Lock()
	failed := s.failed
	s.mu.Unlock()
	if failed == nil {
		if err = s.checkpoint(); err == nil {
			err = s.markClean()
		}
	}
	return errors.Join(err, s.closeFiles())
}

func (s *Store) closeFiles() error {
	var errs []error
	for _, q := range s.queues {
		errs = append(errs, q.cq.Close())
	}
	if s.keys != nil {
		errs = append(errs, s.keys.Close())
	}
	if s.log != nil {
		errs = append(errs, s.log.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	return errors.Join(errs...)
}
