package commitlog

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

const segSuffix = ".seg"

// DefaultSegmentSize is the size at which a segment is sealed.
const DefaultSegmentSize = 1 << 30

// Config configures a Log. The zero value of every field but Dir works.
type Config struct {
	// FS is the file system; nil means vfs.Default.
	FS vfs.FS
	// Dir holds the segment files. Required.
	Dir string
	// SegmentSize is the size at which a segment is sealed and a new one
	// started. Default 1 GiB.
	SegmentSize int64
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("commit log directory is empty")
	}
	if c.SegmentSize < 0 {
		return fmt.Errorf("segment size %d is negative", c.SegmentSize)
	}
	return nil
}

// Segment describes one segment file.
type Segment struct {
	Start int64
	Size  int64
	// ModTime is when the segment was last written; retention by age uses it.
	ModTime time.Time
	Path    string
}

// End is the position just past the segment.
func (s Segment) End() int64 { return s.Start + s.Size }

type segment struct {
	start   int64
	path    string
	file    vfs.File
	size    atomic.Int64
	modTime atomic.Int64 // unix nanoseconds

	refs    atomic.Int32 // 1 for the log's own reference, +1 per reader
	removed atomic.Bool
}

func (s *segment) ref() { s.refs.Add(1) }

func (s *segment) unref() error {
	if s.refs.Add(-1) == 0 {
		return s.file.Close()
	}
	return nil
}

// Log is a segmented append-only log.
type Log struct {
	fs          vfs.FS
	dir         string
	segmentSize int64

	syncMu   sync.Mutex   // one Sync at a time, so its result is true when it returns
	mu       sync.RWMutex // guards segs and toSync
	segs     []*segment
	toSync   []*segment // sealed segments written since the last Sync
	dirDirty bool       // a segment file was created since the last Sync

	end atomic.Int64 // position after the last fully written record
}

// Open opens or creates the log in cfg.Dir. It does not validate records:
// the store's recovery scans the tail and calls Truncate.
func Open(cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.FS == nil {
		cfg.FS = vfs.Default
	}
	if cfg.SegmentSize == 0 {
		cfg.SegmentSize = DefaultSegmentSize
	}
	if err := cfg.FS.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create commit log directory: %w", err)
	}
	l := &Log{fs: cfg.FS, dir: cfg.Dir, segmentSize: cfg.SegmentSize}
	names, err := cfg.FS.List(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("list commit log directory: %w", err)
	}
	for _, name := range names {
		start, ok := parseSegmentName(name)
		if !ok {
			continue
		}
		s, err := l.openSegment(start)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.segs = append(l.segs, s)
	}
	if len(l.segs) == 0 {
		s, err := l.openSegment(0)
		if err != nil {
			return nil, err
		}
		l.segs, l.dirDirty = []*segment{s}, true
	}
	last := l.segs[len(l.segs)-1]
	l.end.Store(last.start + last.size.Load())
	return l, nil
}

// SegmentName returns the file name of the segment starting at start.
func SegmentName(start int64) string { return fmt.Sprintf("%020d%s", start, segSuffix) }

func parseSegmentName(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n >= 0
}

// openSegment opens (creating it if missing) the segment file starting at
// start; the caller adds it to segs.
func (l *Log) openSegment(start int64) (*segment, error) {
	path := filepath.Join(l.dir, SegmentName(start))
	f, err := l.fs.OpenReadWrite(path)
	if err != nil {
		return nil, fmt.Errorf("open segment %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat segment %s: %w", path, err)
	}
	s := &segment{start: start, path: path, file: f}
	s.size.Store(st.Size())
	s.modTime.Store(st.ModTime().UnixNano())
	s.refs.Store(1)
	return s, nil
}

// Start is the position of the first byte still in the log.
func (l *Log) Start() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.segs[0].start
}

// End is the position after the last fully written record.
func (l *Log) End() int64 { return l.end.Load() }

// Append writes one record, given as parts written back to back (a header
// and a payload, say), and returns its position. If the write fails, the
// bytes already written are cut off again so that nothing partial remains;
// if even that fails, the error says so and the next Append retries the cut
// before writing.
func (l *Log) Append(parts ...[]byte) (int64, error) {
	n := int64(0)
	for _, p := range parts {
		n += int64(len(p))
	}
	seg, err := l.activeFor(n)
	if err != nil {
		return 0, err
	}
	pos := l.end.Load()
	if got := seg.start + seg.size.Load(); got != pos {
		// A previous failed write could not be cut off: do it now.
		if err := seg.file.Truncate(pos - seg.start); err != nil {
			return 0, fmt.Errorf("cut partial write from segment %s: %w", seg.path, err)
		}
		seg.size.Store(pos - seg.start)
	}
	off := pos - seg.start
	for _, p := range parts {
		if _, err := seg.file.WriteAt(p, off); err != nil {
			werr := fmt.Errorf("write segment %s at %d: %w", seg.path, off, err)
			if terr := seg.file.Truncate(pos - seg.start); terr != nil {
				// Remember the file is longer than the log: size tells the
				// next Append to cut it first. Readers stop at End.
				seg.size.Store(off + int64(len(p)))
				return 0, errors.Join(werr, fmt.Errorf("cut partial write: %w", terr))
			}
			return 0, werr
		}
		off += int64(len(p))
	}
	seg.size.Store(off)
	seg.modTime.Store(time.Now().UnixNano())
	l.end.Store(pos + n)
	return pos, nil
}

// activeFor returns the segment the next record of n bytes goes to, sealing
// the active one first if the record does not fit.
func (l *Log) activeFor(n int64) (*segment, error) {
	l.mu.RLock()
	seg := l.segs[len(l.segs)-1]
	l.mu.RUnlock()
	used := l.end.Load() - seg.start
	if used == 0 || used+n <= l.segmentSize {
		return seg, nil
	}
	if seg.size.Load() != used {
		// A previous failed write could not be cut off: do it before
		// sealing, or the partial bytes would stay below the next segment.
		if err := seg.file.Truncate(used); err != nil {
			return nil, fmt.Errorf("cut partial write from segment %s: %w", seg.path, err)
		}
		seg.size.Store(used)
	}
	next, err := l.openSegment(l.end.Load())
	if err != nil {
		return nil, err
	}
	// Add the new segment and queue the sealed one for Sync in one step: a
	// Sync that saw the new segment as active but not the sealed one in
	// toSync would return an End covering bytes it did not sync.
	l.mu.Lock()
	l.segs = append(l.segs, next)
	l.toSync = append(l.toSync, seg)
	seg.ref() // kept until synced, even if retention removes it meanwhile
	l.dirDirty = true
	l.mu.Unlock()
	return next, nil
}

// Sync makes everything below the returned position durable. It may run
// concurrently with Append; bytes appended while it runs may or may not be
// covered, and the returned position says which are.
func (l *Log) Sync() (int64, error) {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	end := l.end.Load()
	sealed := l.toSync
	l.toSync = nil
	dirDirty := l.dirDirty
	l.dirDirty = false
	active := l.segs[len(l.segs)-1]
	active.ref()
	l.mu.Unlock()

	var err error
	for _, s := range sealed {
		if e := s.file.Sync(); e != nil && err == nil {
			err = fmt.Errorf("sync segment %s: %w", s.path, e)
		}
		s.unref()
	}
	if e := active.file.Sync(); e != nil && err == nil {
		err = fmt.Errorf("sync segment %s: %w", active.path, e)
	}
	active.unref()
	if dirDirty && err == nil {
		if e := l.fs.SyncDir(l.dir); e != nil {
			err = fmt.Errorf("sync commit log directory: %w", e)
		}
	}
	if err != nil {
		l.mu.Lock()
		l.dirDirty = l.dirDirty || dirDirty
		l.mu.Unlock()
		return 0, err
	}
	return end, nil
}

// ErrOutOfRange means a position is not in the log (any more).
var ErrOutOfRange = errors.New("position out of range")

// ReadAt reads len(p) bytes at pos, which must lie within one segment and
// below End. It returns the path of the segment for error messages.
func (l *Log) ReadAt(p []byte, pos int64) (string, error) {
	seg := l.find(pos)
	if seg == nil {
		return "", fmt.Errorf("read at %d: %w", pos, ErrOutOfRange)
	}
	defer seg.unref()
	off := pos - seg.start
	if off+int64(len(p)) > seg.size.Load() || pos+int64(len(p)) > l.end.Load() {
		return seg.path, fmt.Errorf("read %d bytes at %d of segment %s: %w", len(p), off, seg.path, io.ErrUnexpectedEOF)
	}
	if _, err := seg.file.ReadAt(p, off); err != nil {
		return seg.path, fmt.Errorf("read segment %s at %d: %w", seg.path, off, err)
	}
	return seg.path, nil
}

// Locate returns the segment file and the offset within it of pos, for
// error messages that must name a file.
func (l *Log) Locate(pos int64) (string, int64) {
	seg := l.find(pos)
	if seg == nil {
		return "", pos
	}
	defer seg.unref()
	return seg.path, pos - seg.start
}

// find returns the referenced segment holding pos, or nil.
func (l *Log) find(pos int64) *segment {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].start > pos }) - 1
	if i < 0 || l.segs[i].removed.Load() {
		return nil
	}
	s := l.segs[i]
	s.ref()
	return s
}

// Segments lists the segments, oldest first.
func (l *Log) Segments() []Segment {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]Segment, len(l.segs))
	for i, s := range l.segs {
		out[i] = Segment{Start: s.start, Size: s.size.Load(), ModTime: time.Unix(0, s.modTime.Load()), Path: s.path}
	}
	return out
}

// DeleteOldest removes the oldest segment, which must not be the active one.
// Readers that hold it finish their reads first.
func (l *Log) DeleteOldest() error {
	l.mu.Lock()
	if len(l.segs) < 2 {
		l.mu.Unlock()
		return errors.New("refusing to delete the active segment")
	}
	s := l.segs[0]
	l.segs = l.segs[1:]
	l.mu.Unlock()
	s.removed.Store(true)
	if err := l.fs.Remove(s.path); err != nil {
		return fmt.Errorf("remove segment %s: %w", s.path, err)
	}
	return s.unref()
}

// Truncate cuts the log at pos: bytes at and after it are removed, and
// segments that start after pos are deleted. Recovery uses it to drop a torn
// tail; it must not run concurrently with Append.
func (l *Log) Truncate(pos int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.segs) > 1 && l.segs[len(l.segs)-1].start > pos {
		s := l.segs[len(l.segs)-1]
		l.segs = l.segs[:len(l.segs)-1]
		s.removed.Store(true)
		if err := l.fs.Remove(s.path); err != nil {
			return fmt.Errorf("remove segment %s: %w", s.path, err)
		}
		s.unref()
		l.dirDirty = true
	}
	last := l.segs[len(l.segs)-1]
	if err := truncateSegment(last, pos); err != nil {
		return err
	}
	l.end.Store(last.start + last.size.Load())
	return nil
}

// TruncateSegment cuts the segment that holds pos at pos, keeping later
// segments. Recovery uses it for a torn tail of a sealed segment.
func (l *Log) TruncateSegment(pos int64) error {
	seg := l.find(pos)
	if seg == nil {
		return fmt.Errorf("truncate at %d: %w", pos, ErrOutOfRange)
	}
	defer seg.unref()
	if err := truncateSegment(seg, pos); err != nil {
		return err
	}
	l.mu.RLock()
	last := l.segs[len(l.segs)-1]
	l.mu.RUnlock()
	if last == seg {
		l.end.Store(seg.start + seg.size.Load())
	}
	return nil
}

func truncateSegment(s *segment, pos int64) error {
	off := max(pos-s.start, 0)
	if off >= s.size.Load() {
		return nil
	}
	if err := s.file.Truncate(off); err != nil {
		return fmt.Errorf("truncate segment %s to %d: %w", s.path, off, err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("sync segment %s: %w", s.path, err)
	}
	s.size.Store(off)
	return nil
}

// Close closes every segment file. Readers still holding a segment keep it
// open until they finish.
func (l *Log) Close() error {
	l.mu.Lock()
	segs, sealed := l.segs, l.toSync
	l.segs, l.toSync = nil, nil
	l.mu.Unlock()
	var err error
	for _, s := range sealed {
		s.unref()
	}
	for _, s := range segs {
		if e := s.unref(); e != nil && err == nil {
			err = e
		}
	}
	return err
}
