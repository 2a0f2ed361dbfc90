package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// Defaults and limits.
const (
	DefaultMaxSize     = 1 << 30
	DefaultSegmentSize = 64 << 20
	// MaxEntry bounds one entry; a larger length read from disk is damage.
	MaxEntry   = 64 << 20
	headerSize = 8

	checkpointName     = "checkpoint"
	checkpointInterval = time.Second
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by calls on a closed spool.
var ErrClosed = errors.New("spool is closed")

// ErrTooLarge is returned by Append for an entry above MaxEntry or MaxSize.
var ErrTooLarge = errors.New("entry too large for the spool")

// Config configures a Spool.
type Config struct {
	// Dir holds the spool's files. Required.
	Dir string
	// MaxSize bounds the bytes on disk. Default 1 GiB.
	MaxSize int64
	// WhenFull is "block" (default: Append waits for room) or
	// "drop_oldest" (the oldest segment goes, counted and logged).
	WhenFull string
	// SegmentSize is the size at which a new segment starts. Default
	// 64 MiB, or MaxSize/8 if that is smaller.
	SegmentSize int64
	// FS is the file system; nil means the operating system's.
	FS      vfs.FS
	Logger  *slog.Logger
	Metrics *metrics.Set
}

// Validate reports a field that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("spool: dir is required"))
	}
	if c.MaxSize < 0 || c.SegmentSize < 0 {
		errs = append(errs, errors.New("spool: sizes must not be negative"))
	}
	if c.WhenFull != "" && c.WhenFull != "block" && c.WhenFull != "drop_oldest" {
		errs = append(errs, fmt.Errorf("spool: when_full %q is not block or drop_oldest", c.WhenFull))
	}
	return errors.Join(errs...)
}

// segment is one file of the spool.
type segment struct {
	start    int64 // position of its first byte
	size     int64 // bytes in the file
	limit    int64 // bytes holding readable entries (below size if damaged)
	firstSeq int64 // sequence number of its first entry
	entries  int64
}

func (g *segment) end() int64 { return g.start + g.size }

// Spool is a disk queue of entries, read in order.
type Spool struct {
	cfg Config
	fs  vfs.FS
	lg  *slog.Logger
	m   *spoolMetrics

	mu        sync.Mutex
	segs      []*segment
	w         vfs.File // the last segment, appended to
	writeEnd  int64
	nextSeq   int64 // sequence number of the next appended entry
	readPos   int64
	readSeq   int64
	rf        vfs.File // the segment being read
	rfStart   int64
	ackPos    int64
	ackSeq    int64
	bad       map[int64]bool // damaged entries found at Open, skipped by Next
	lastCP    time.Time
	cpDirty   bool
	data      chan struct{} // closed when entries are appended, or at Close
	room      chan struct{} // closed when a segment is deleted, or at Close
	closed    bool
	headerBuf [headerSize]byte
}

// Open opens (or creates) the spool in cfg.Dir, re-validating what is
// left from before.
func Open(cfg Config) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.SegmentSize == 0 {
		cfg.SegmentSize = min(DefaultSegmentSize, max(cfg.MaxSize/8, 1<<16))
	}
	if cfg.WhenFull == "" {
		cfg.WhenFull = "block"
	}
	if cfg.FS == nil {
		cfg.FS = vfs.Default
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSet()
	}
	s := &Spool{cfg: cfg, fs: cfg.FS, lg: cfg.Logger, bad: map[int64]bool{},
		data: make(chan struct{}), room: make(chan struct{}), lastCP: time.Now()}
	s.m = newSpoolMetrics(cfg.Metrics, s)
	if err := s.fs.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("open spool %s: %w", cfg.Dir, err)
	}
	return s, nil
}

func (s *Spool) segPath(start int64) string {
	return filepath.Join(s.cfg.Dir, fmt.Sprintf("%020d.seg", start))
}

// Append stores rec durably (written and fsynced) at the end of the
// spool, making room first as WhenFull says.
func (s *Spool) Append(ctx context.Context, rec []byte) error {
	need := int64(headerSize + len(rec))
	if len(rec) > MaxEntry || need > s.cfg.MaxSize {
		return fmt.Errorf("spool append of %d bytes: %w", len(rec), ErrTooLarge)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.makeRoomLocked(ctx, need); err != nil {
		return err
	}
	last := s.segs[len(s.segs)-1]
	if last.size > 0 && last.size+need > s.cfg.SegmentSize {
		if err := s.rotateLocked(); err != nil {
			return err
		}
		last = s.segs[len(s.segs)-1]
	}
	binary.LittleEndian.PutUint32(s.headerBuf[0:], uint32(len(rec)))
	c := crc32.Update(crc32.Checksum(s.headerBuf[0:4], castagnoli), castagnoli, rec)
	binary.LittleEndian.PutUint32(s.headerBuf[4:], c)
	if err := s.writeLocked(last, rec); err != nil {
		return err
	}
	last.size += need
	last.limit = last.size
	last.entries++
	s.writeEnd += need
	s.nextSeq++
	s.m.appended.Inc()
	close(s.data)
	s.data = make(chan struct{})
	return nil
}

// writeLocked writes header and rec at the end of seg and fsyncs; on
// failure it cuts what was written, so no partial entry is left behind.
func (s *Spool) writeLocked(seg *segment, rec []byte) error {
	_, err := s.w.WriteAt(s.headerBuf[:], seg.size)
	if err == nil {
		_, err = s.w.WriteAt(rec, seg.size+headerSize)
	}
	if err == nil {
		err = s.w.Sync()
	}
	if err != nil {
		if terr := s.w.Truncate(seg.size); terr != nil {
			err = errors.Join(err, fmt.Errorf("cut failed write: %w", terr))
		}
		return fmt.Errorf("spool append to %s: %w", s.segPath(seg.start), err)
	}
	return nil
}

// makeRoomLocked waits for, or makes, room for need more bytes.
func (s *Spool) makeRoomLocked(ctx context.Context, need int64) error {
	for {
		if s.closed {
			return ErrClosed
		}
		if s.sizeLocked()+need <= s.cfg.MaxSize {
			return nil
		}
		if s.cfg.WhenFull == "drop_oldest" {
			if err := s.dropOldestLocked(); err != nil {
				return err
			}
			continue
		}
		room := s.room
		s.mu.Unlock()
		s.m.blocked.Inc()
		select {
		case <-room:
		case <-ctx.Done():
			s.mu.Lock()
			return fmt.Errorf("spool full (%d bytes): %w", s.cfg.MaxSize, ctx.Err())
		}
		s.mu.Lock()
	}
}

func (s *Spool) sizeLocked() int64 {
	var n int64
	for _, g := range s.segs {
		n += g.size
	}
	return n
}

// rotateLocked closes the last segment and starts a new one after it.
func (s *Spool) rotateLocked() error {
	last := s.segs[len(s.segs)-1]
	f, err := s.fs.Create(s.segPath(last.end()))
	if err != nil {
		return fmt.Errorf("spool new segment: %w", err)
	}
	if err := s.fs.SyncDir(s.cfg.Dir); err != nil {
		f.Close()
		return fmt.Errorf("spool new segment: %w", err)
	}
	if s.w != nil {
		s.w.Close()
	}
	s.w = f
	s.segs = append(s.segs, &segment{start: last.end(), firstSeq: s.nextSeq})
	return nil
}

// dropOldestLocked deletes the oldest segment with its entries.
func (s *Spool) dropOldestLocked() error {
	if len(s.segs) == 1 {
		if s.segs[0].size == 0 {
			return fmt.Errorf("spool: nothing left to drop: %w", ErrTooLarge)
		}
		if err := s.rotateLocked(); err != nil {
			return err
		}
	}
	old, next := s.segs[0], s.segs[1]
	dropped := next.firstSeq - max(s.ackSeq, old.firstSeq)
	if dropped > 0 {
		s.m.dropped.Add(int(dropped))
		s.lg.Warn("spool full: dropped the oldest entries (when_full: drop_oldest)",
			"entries", dropped, "bytes", old.size, "segment", s.segPath(old.start))
	}
	s.ackSeq = max(s.ackSeq, next.firstSeq)
	s.ackPos = max(s.ackPos, next.start)
	if s.readPos < next.start {
		s.readPos, s.readSeq = next.start, next.firstSeq
	}
	s.cpDirty = true
	return s.deleteSegmentLocked()
}

// deleteSegmentLocked removes s.segs[0], which must not be the last.
func (s *Spool) deleteSegmentLocked() error {
	old := s.segs[0]
	if s.rf != nil && s.rfStart == old.start {
		s.rf.Close()
		s.rf = nil
	}
	s.segs = s.segs[1:]
	for pos := range s.bad {
		if pos < old.end() {
			delete(s.bad, pos)
		}
	}
	close(s.room)
	s.room = make(chan struct{})
	if err := s.fs.Remove(s.segPath(old.start)); err != nil {
		return fmt.Errorf("spool delete segment: %w", err)
	}
	return nil
}

// Len is the number of entries appended and not yet acknowledged.
func (s *Spool) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextSeq - s.ackSeq
}

// Size is the number of bytes the spool's segments take.
func (s *Spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sizeLocked()
}

// Close writes the checkpoint and closes the files; calls blocked in
// Next or Append return ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.data)
	close(s.room)
	err := s.writeCheckpointLocked()
	return errors.Join(err, s.closeFiles())
}

func (s *Spool) closeFiles() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.Close())
		s.w = nil
	}
	if s.rf != nil {
		errs = append(errs, s.rf.Close())
		s.rf = nil
	}
	return errors.Join(errs...)
}
