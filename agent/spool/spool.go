package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// ErrClosed is returned by calls on a closed spool.
var ErrClosed = errors.New("spool is closed")

// ErrTooLarge is returned by Append for a record above the maximum.
var ErrTooLarge = errors.New("record too large for the spool")

// segment is one file of the spool.
type segment struct {
	start    int64  // stream position of its first byte
	size     int64  // bytes written to it
	firstSeq uint64 // sequence number of its first record not acknowledged at Open
	lastAt   int64  // append time of its last record (unix ns), 0 if unknown
}

func (g *segment) end() int64 { return g.start + g.size }

// syncFailure marks the writes with tickets in (lo, hi] as cut after a
// failed fsync.
type syncFailure struct {
	lo, hi uint64
	err    error
}

// Spool is a durable FIFO of records on disk, read in order by one
// reader. All methods are safe for concurrent use.
type Spool struct {
	cfg  Config
	fs   vfs.FS
	lg   *slog.Logger
	m    *spoolMetrics
	lock io.Closer

	mu   sync.Mutex
	segs []*segment // in stream order; the last one is appended to
	w    vfs.File   // the last segment, open for writing
	wbuf []byte
	size int64 // bytes in all segments

	// Writing and group commit. A write takes a ticket; a sync makes
	// every write up to its target durable.
	writeEnd     int64 // stream position after the last write
	nextSeq      uint64
	lastTicket   uint64
	synced       int64 // durable end: readers see records below it
	syncedSeq    uint64
	syncedTicket uint64
	syncing      bool
	syncEnded    sync.Cond // broadcast when the running sync ends
	failures     []syncFailure
	waiters      int

	// Reading and acknowledgement.
	readPos  int64
	readSeq  uint64
	readGen  uint64 // bumped when the read position jumps (Rewind, drop)
	readMax  int64  // furthest position Next has returned a record up to
	ackPos   int64
	ackSeq   uint64
	cpDirty  bool
	dataCh   chan struct{} // closed when synced advances and a reader waits, or at Close
	readWait bool          // a reader waits on dataCh
	roomCh   chan struct{} // closed when a segment goes, or at Close
	closed   bool
	readMu   sync.Mutex // one Next at a time; guards the fields below
	rf       vfs.File   // the segment being read
	rfStart  int64
	peakRead int64 // largest buffer a read allocated (checked by tests)

	cpMu sync.Mutex // serializes checkpoint writes
	stop chan struct{}
	wg   sync.WaitGroup
}

// Open opens the spool in cfg.Dir, creating it if needed, validating what
// a crash may have torn and resuming at the persisted checkpoint.
func Open(cfg Config) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Spool{cfg: cfg, fs: cfg.FS, lg: cfg.Logger.With("spool", cfg.Dir),
		dataCh: make(chan struct{}), roomCh: make(chan struct{}), stop: make(chan struct{})}
	s.syncEnded.L = &s.mu
	if err := s.fs.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	lock, err := s.fs.Lock(filepath.Join(cfg.Dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", cfg.Dir, err)
	}
	s.lock = lock
	s.m = newSpoolMetrics(cfg.Metrics, s)
	if err := s.recover(); err != nil {
		err = errors.Join(err, s.closeFiles())
		return nil, fmt.Errorf("open spool %s: %w", cfg.Dir, err)
	}
	s.wg.Add(1)
	go s.checkpointLoop()
	return s, nil
}

func (s *Spool) segPath(start int64) string {
	return filepath.Join(s.cfg.Dir, fmt.Sprintf("%020d.seg", start))
}

// Append stores rec at the end of the spool and returns nil once it is
// fsynced. When the spool is full it waits (block) or drops the oldest
// records (drop_oldest) first. ctx bounds only the wait for room.
func (s *Spool) Append(ctx context.Context, rec []byte) error {
	if int64(len(rec)) > s.cfg.maxPayload() {
		return fmt.Errorf("spool append of %d bytes (max %d): %w", len(rec), s.cfg.maxPayload(), ErrTooLarge)
	}
	need := int64(headerSize + len(rec))
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if err := s.makeRoomLocked(ctx, need); err != nil {
			return err
		}
		last := s.segs[len(s.segs)-1]
		if last.size == 0 || last.size+need <= s.cfg.SegmentSize {
			break
		}
		// Rotation may let go of s.mu: check for room again after it.
		if err := s.rotateLocked(); err != nil {
			return err
		}
	}
	ticket, err := s.writeLocked(rec, need)
	if err != nil {
		return err
	}
	return s.waitSyncedLocked(ticket)
}

// writeLocked writes one record at the end of the last segment. A failed
// write is cut off the file.
func (s *Spool) writeLocked(rec []byte, need int64) (ticket uint64, err error) {
	last := s.segs[len(s.segs)-1]
	now := time.Now().UnixNano()
	s.wbuf = appendRecord(s.wbuf[:0], rec, now)
	off := s.writeEnd - last.start
	if _, err := s.w.WriteAt(s.wbuf, off); err != nil {
		err = fmt.Errorf("spool append to %s at %d: %w", s.segPath(last.start), off, err)
		if terr := s.w.Truncate(off); terr != nil {
			// The next write overwrites the partial record from its
			// start; rotation and Open cut what may stick out.
			err = errors.Join(err, fmt.Errorf("cut partial record: %w", terr))
		}
		return 0, err
	}
	if cap(s.wbuf) > 1<<20 {
		s.wbuf = nil // do not hold on to one huge record's buffer
	}
	last.size += need
	last.lastAt = now
	s.size += need
	s.writeEnd += need
	s.nextSeq++
	s.lastTicket++
	s.m.appended.Inc()
	return s.lastTicket, nil
}

// waitSyncedLocked waits until the write with ticket is durable, leading
// a sync itself when none runs: writes made meanwhile share the next one.
func (s *Spool) waitSyncedLocked(ticket uint64) error {
	s.waiters++
	defer func() {
		s.waiters--
		if s.waiters == 0 {
			s.failures = s.failures[:0]
		}
	}()
	for {
		for _, f := range s.failures {
			if ticket > f.lo && ticket <= f.hi {
				return f.err
			}
		}
		if ticket <= s.syncedTicket {
			return nil
		}
		if s.closed {
			return ErrClosed
		}
		if !s.syncing {
			s.syncLocked()
			continue
		}
		s.syncEnded.Wait()
	}
}

// syncLocked fsyncs the last segment with s.mu released. On failure every
// write not yet durable is cut from the file and fails.
func (s *Spool) syncLocked() {
	s.syncing = true
	target, seq, ticket, f := s.writeEnd, s.nextSeq, s.lastTicket, s.w
	s.mu.Unlock()
	err := f.Sync()
	s.mu.Lock()
	s.syncing = false
	s.syncEnded.Broadcast()
	if err == nil {
		s.synced, s.syncedSeq, s.syncedTicket = target, seq, ticket
		if s.readWait {
			s.readWait = false
			s.wakeLocked(&s.dataCh)
		}
		return
	}
	last := s.segs[len(s.segs)-1]
	err = fmt.Errorf("spool fsync %s: %w", s.segPath(last.start), err)
	s.failures = append(s.failures, syncFailure{lo: s.syncedTicket, hi: s.lastTicket, err: err})
	s.cutToSyncedLocked()
}

// cutToSyncedLocked drops the writes after the durable end, which the
// last segment holds (a segment is durable before the next starts).
func (s *Spool) cutToSyncedLocked() {
	last := s.segs[len(s.segs)-1]
	cut := s.writeEnd - s.synced
	if cut == 0 {
		return
	}
	if err := s.w.Truncate(s.synced - last.start); err != nil {
		s.lg.Warn("spool: cutting writes after a failed fsync; the next write overwrites them",
			"file", s.segPath(last.start), "offset", s.synced-last.start, "err", err)
	}
	last.size -= cut
	s.size -= cut
	s.writeEnd = s.synced
	s.nextSeq = s.syncedSeq
	s.syncedTicket = s.lastTicket // the failed tickets are settled
}

// rotateLocked makes the last segment durable and starts a new one.
func (s *Spool) rotateLocked() error {
	for s.syncing {
		s.syncEnded.Wait()
	}
	if s.closed {
		return ErrClosed
	}
	if err := s.syncOwnLocked(); err != nil {
		return err
	}
	last := s.segs[len(s.segs)-1]
	if last.size == 0 {
		return nil // another appender rotated while s.mu was let go
	}
	name := s.segPath(last.end())
	f, err := s.fs.Create(name)
	if err == nil {
		err = s.fs.SyncDir(s.cfg.Dir)
		if err != nil {
			f.Close()
			err = errors.Join(err, s.fs.Remove(name))
		}
	}
	if err != nil {
		return fmt.Errorf("spool new segment %s: %w", name, err)
	}
	// Cut anything a failed write left past the end, then let go.
	_ = s.w.Truncate(last.size)
	s.w.Close()
	s.w = f
	s.segs = append(s.segs, &segment{start: last.end(), firstSeq: s.nextSeq})
	return nil
}

// syncOwnLocked makes every write durable under s.mu, for rotation; on
// failure the unsynced writes are cut and their appenders fail.
func (s *Spool) syncOwnLocked() error {
	for s.synced < s.writeEnd {
		if s.closed {
			return ErrClosed
		}
		if s.syncing {
			s.syncEnded.Wait()
			continue
		}
		failed := len(s.failures)
		s.syncLocked()
		if len(s.failures) > failed {
			return fmt.Errorf("spool rotate: %w", s.failures[len(s.failures)-1].err)
		}
	}
	return nil
}

// wakeLocked wakes the waiters on *ch with a fresh channel for the next
// ones; after Close the channel stays closed.
func (s *Spool) wakeLocked(ch *chan struct{}) {
	if s.closed {
		return
	}
	close(*ch)
	*ch = make(chan struct{})
}
