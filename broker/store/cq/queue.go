package cq

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// DefaultEntriesPerFile is how many entries one consume queue file holds
// (3 MiB of entries, 65,536 batches).
const DefaultEntriesPerFile = 1 << 16

const fileSuffix = ".cq"

type qfile struct {
	first int64 // entry index of the file's first entry
	path  string
	file  vfs.File
	dirty bool
}

// Queue is the consume queue of one (topic, queue). Append is called by one
// writer (the store's dispatcher); reads may run concurrently.
type Queue struct {
	fs      vfs.FS
	dir     string
	perFile int64

	mu         sync.RWMutex
	files      []*qfile
	first      int64   // entry index of bases[0]
	bases      []int64 // base offset of every entry still held
	next       int64   // offset after the last entry
	lastStored int64   // stored-at of the last entry
	lastPos    int64   // log position of the last entry, -1 if none
	buf        [EntrySize]byte
}

// LoadReport tells the store what Open found.
type LoadReport struct {
	Entries int64 // entries loaded
	// Damaged is set when an entry before the end failed its check or broke
	// the order: the queue was cut there and must be rebuilt from the log.
	Damaged error
}

// Open loads the consume queue in dir, creating dir if needed. A torn last
// entry is cut off silently (an unfinished write); anything worse is
// reported in LoadReport.Damaged and the queue is cut before it.
func Open(fs vfs.FS, dir string, perFile int64) (*Queue, LoadReport, error) {
	if perFile <= 0 {
		perFile = DefaultEntriesPerFile
	}
	q := &Queue{fs: fs, dir: dir, perFile: perFile, lastPos: -1}
	var rep LoadReport
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, rep, fmt.Errorf("create consume queue directory: %w", err)
	}
	names, err := fs.List(dir)
	if err != nil {
		return nil, rep, fmt.Errorf("list consume queue %s: %w", dir, err)
	}
	var firsts []int64
	for _, n := range names {
		if digits, ok := strings.CutSuffix(n, fileSuffix); ok && len(digits) == 20 {
			if v, err := strconv.ParseInt(digits, 10, 64); err == nil && v >= 0 && v%perFile == 0 {
				firsts = append(firsts, v)
			}
		}
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	cut := false
	for i, first := range firsts {
		if cut || (i > 0 && first != firsts[i-1]+perFile) {
			if rep.Damaged == nil {
				rep.Damaged = fmt.Errorf("consume queue %s: entries before file %d missing", dir, first)
			}
			cut = true
			// Everything after a hole or damage is rebuilt from the log.
			if err := fs.Remove(q.path(first)); err != nil {
				return nil, rep, fmt.Errorf("remove consume queue file: %w", err)
			}
			continue
		}
		var err error
		if cut, err = q.load(first, &rep); err != nil {
			q.Close()
			return nil, rep, err
		}
	}
	rep.Entries = int64(len(q.bases))
	return q, rep, nil
}

func (q *Queue) path(first int64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d%s", first, fileSuffix))
}

// load reads one file's entries and reports whether it had to cut any. It
// is only used by Open.
func (q *Queue) load(first int64, rep *LoadReport) (bool, error) {
	path := q.path(first)
	f, err := q.fs.OpenReadWrite(path)
	if err != nil {
		return false, fmt.Errorf("open consume queue file %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return false, fmt.Errorf("stat consume queue file %s: %w", path, err)
	}
	n := min(st.Size()/EntrySize, q.perFile)
	data := make([]byte, n*EntrySize)
	if _, err := f.ReadAt(data, 0); err != nil {
		f.Close()
		return false, fmt.Errorf("read consume queue file %s: %w", path, err)
	}
	if len(q.files) == 0 {
		q.first = first
	}
	q.files = append(q.files, &qfile{first: first, path: path, file: f})
	good := int64(0)
	for ; good < n; good++ {
		e, err := DecodeEntry(data[good*EntrySize:])
		if err == nil && len(q.bases) > 0 && (e.BaseOffset < q.next || e.Pos <= q.lastPos) {
			err = fmt.Errorf("%w: entry out of order (offset %d after %d)", ErrCorruptEntry, e.BaseOffset, q.next)
		}
		if err != nil {
			// The last entry of the last file may be a torn write; anything
			// else is damage. Both are cut; the store decides about damage.
			if good != n-1 {
				rep.Damaged = fmt.Errorf("%s entry %d: %w", path, first+good, err)
			}
			break
		}
		q.bases = append(q.bases, e.BaseOffset)
		q.next, q.lastStored, q.lastPos = e.Next(), e.StoredAtMs, e.Pos
	}
	if good*EntrySize == st.Size() {
		return false, nil
	}
	if err := f.Truncate(good * EntrySize); err != nil {
		return true, fmt.Errorf("truncate consume queue file %s: %w", path, err)
	}
	return true, nil
}

// Range returns the first offset still held and the offset after the last.
// Both equal Next() for an empty queue.
func (q *Queue) Range() (min, next int64) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if len(q.bases) == 0 {
		return q.next, q.next
	}
	return q.bases[0], q.next
}

// Next is the offset the next batch gets.
func (q *Queue) Next() int64 {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.next
}

// LastStoredMs is the stored-at time of the last entry (0 if none).
func (q *Queue) LastStoredMs() int64 {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.lastStored
}

// LastPos is the log position of the last entry, -1 if the queue is empty.
func (q *Queue) LastPos() int64 {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.lastPos
}

// Len is the number of entries held.
func (q *Queue) Len() int64 {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return int64(len(q.bases))
}

// SetNext raises the next offset of a queue, so that offsets are never
// reused when retention removed every entry of it.
func (q *Queue) SetNext(next int64) {
	q.mu.Lock()
	q.next = max(q.next, next)
	q.mu.Unlock()
}

// Append adds an entry. Its base offset must not be below Next() and its
// position must be after the last entry's.
func (q *Queue) Append(e Entry) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e.BaseOffset < q.next || e.Pos <= q.lastPos {
		return fmt.Errorf("consume queue %s: entry at offset %d position %d after offset %d position %d",
			q.dir, e.BaseOffset, e.Pos, q.next, q.lastPos)
	}
	idx := q.first + int64(len(q.bases))
	f, err := q.fileForLocked(idx)
	if err != nil {
		return err
	}
	e.Encode(q.buf[:])
	if _, err := f.file.WriteAt(q.buf[:], (idx-f.first)*EntrySize); err != nil {
		// A half-written entry beyond the end is cut at the next load or
		// overwritten by the next append: nothing reads past len(bases).
		return fmt.Errorf("write consume queue file %s: %w", f.path, err)
	}
	f.dirty = true
	q.bases = append(q.bases, e.BaseOffset)
	q.next, q.lastStored, q.lastPos = e.Next(), e.StoredAtMs, e.Pos
	return nil
}

func (q *Queue) fileForLocked(idx int64) (*qfile, error) {
	if n := len(q.files); n > 0 && idx < q.files[n-1].first+q.perFile {
		return q.files[n-1], nil
	}
	first := idx - idx%q.perFile
	path := q.path(first)
	f, err := q.fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create consume queue file %s: %w", path, err)
	}
	if len(q.files) == 0 {
		q.first = idx
	}
	qf := &qfile{first: first, path: path, file: f, dirty: true}
	q.files = append(q.files, qf)
	return qf, nil
}

// ErrNoEntry means no entry holds or follows the offset.
var ErrNoEntry = errors.New("no entry at or after offset")

// Find returns the index of the entry holding offset or, when offset falls
// in a gap or before the first entry, of the first entry after it.
func (q *Queue) Find(offset int64) (int64, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if offset >= q.next {
		return 0, ErrNoEntry
	}
	i := sort.Search(len(q.bases), func(i int) bool { return q.bases[i] > offset }) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(q.bases) {
		return 0, ErrNoEntry
	}
	return q.first + int64(i), nil
}

// Entries reads up to len(dst) consecutive entries starting at entry index
// idx, in as few reads as the file split allows, and returns how many.
func (q *Queue) Entries(idx int64, dst []Entry, scratch []byte) (int, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	end := q.first + int64(len(q.bases))
	if idx < q.first || idx >= end {
		return 0, ErrNoEntry
	}
	n := int(min(int64(len(dst)), end-idx))
	fi := sort.Search(len(q.files), func(i int) bool { return q.files[i].first > idx }) - 1
	f := q.files[fi]
	n = int(min(int64(n), f.first+q.perFile-idx)) // stay within one file
	if cap(scratch) < n*EntrySize {
		scratch = make([]byte, n*EntrySize)
	}
	buf := scratch[:n*EntrySize]
	if _, err := f.file.ReadAt(buf, (idx-f.first)*EntrySize); err != nil {
		return 0, fmt.Errorf("read consume queue file %s entry %d: %w", f.path, idx, err)
	}
	for i := range n {
		e, err := DecodeEntry(buf[i*EntrySize:])
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, fmt.Errorf("%s entry %d: %w", f.path, idx, err)
		}
		dst[i] = e
	}
	return n, nil
}

// Entry reads the entry at index idx.
func (q *Queue) Entry(idx int64) (Entry, error) {
	var e [1]Entry
	var scratch [EntrySize]byte
	if _, err := q.Entries(idx, e[:], scratch[:]); err != nil {
		return Entry{}, err
	}
	return e[0], nil
}

// SearchTime returns the offset of the first batch stored at or after ms,
// or Next() if there is none.
func (q *Queue) SearchTime(ms int64) (int64, error) {
	q.mu.RLock()
	first, n, next := q.first, int64(len(q.bases)), q.next
	q.mu.RUnlock()
	var searchErr error
	i := sort.Search(int(n), func(i int) bool {
		e, err := q.Entry(first + int64(i))
		if err != nil {
			searchErr = err
			return true
		}
		return e.StoredAtMs >= ms
	})
	if searchErr != nil {
		return 0, searchErr
	}
	if int64(i) == n {
		return next, nil
	}
	e, err := q.Entry(first + int64(i))
	if err != nil {
		return 0, err
	}
	return e.BaseOffset, nil
}

// TruncateFromPos drops every entry whose log position is at or after pos.
// Recovery uses it before replaying the log from pos.
func (q *Queue) TruncateFromPos(pos int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	k, err := q.searchPosLocked(pos)
	if err != nil {
		return err
	}
	return q.truncateLocked(k)
}

func (q *Queue) entryLocked(idx int64) (Entry, error) {
	fi := sort.Search(len(q.files), func(i int) bool { return q.files[i].first > idx }) - 1
	f := q.files[fi]
	var b [EntrySize]byte
	if _, err := f.file.ReadAt(b[:], (idx-f.first)*EntrySize); err != nil {
		return Entry{}, fmt.Errorf("read consume queue file %s entry %d: %w", f.path, idx, err)
	}
	return DecodeEntry(b[:])
}

// truncateLocked keeps the first keep entries.
func (q *Queue) truncateLocked(keep int) error {
	if keep == len(q.bases) {
		return nil
	}
	idx := q.first + int64(keep)
	for len(q.files) > 0 {
		f := q.files[len(q.files)-1]
		if f.first < idx || (f.first == idx && len(q.files) == 1) {
			if err := f.file.Truncate((idx - f.first) * EntrySize); err != nil {
				return fmt.Errorf("truncate consume queue file %s: %w", f.path, err)
			}
			f.dirty = true
			break
		}
		f.file.Close()
		if err := q.fs.Remove(f.path); err != nil {
			return fmt.Errorf("remove consume queue file %s: %w", f.path, err)
		}
		q.files = q.files[:len(q.files)-1]
	}
	q.bases = q.bases[:keep]
	q.lastStored, q.lastPos, q.next = 0, -1, 0
	if keep > 0 {
		e, err := q.entryLocked(idx - 1)
		if err != nil {
			return err
		}
		q.next, q.lastStored, q.lastPos = e.Next(), e.StoredAtMs, e.Pos
	}
	return nil
}

// DropBefore forgets the entries whose batches lie below log position pos
// (retention removed those segments) and deletes the files that hold only
// such entries. The queue's next offset is kept even if no entry is left.
func (q *Queue) DropBefore(pos int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.files) > 1 {
		f, next := q.files[0], q.files[1]
		last, err := q.entryLocked(next.first - 1)
		if err != nil {
			return err
		}
		if last.Pos >= pos {
			break
		}
		f.file.Close()
		if err := q.fs.Remove(f.path); err != nil {
			return fmt.Errorf("remove consume queue file %s: %w", f.path, err)
		}
		q.files = q.files[1:]
		q.bases = q.bases[next.first-q.first:]
		q.first = next.first
	}
	// Entries below pos in the remaining first file are hidden, not
	// deleted: the file goes once all of its entries are below pos.
	k, err := q.searchPosLocked(pos)
	if err != nil {
		return err
	}
	q.bases = q.bases[k:]
	q.first += int64(k)
	return nil
}

// searchPosLocked returns the index into bases of the first entry whose
// position is at or after pos.
func (q *Queue) searchPosLocked(pos int64) (int, error) {
	lo, hi := 0, len(q.bases)
	for lo < hi {
		mid := (lo + hi) / 2
		e, err := q.entryLocked(q.first + int64(mid))
		if err != nil {
			return 0, err
		}
		if e.Pos >= pos {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// Sync makes the entries written so far durable.
func (q *Queue) Sync() error {
	q.mu.Lock()
	var dirty []*qfile
	for _, f := range q.files {
		if f.dirty {
			dirty = append(dirty, f)
			f.dirty = false
		}
	}
	q.mu.Unlock()
	for _, f := range dirty {
		if err := f.file.Sync(); err != nil {
			q.mu.Lock()
			f.dirty = true
			q.mu.Unlock()
			return fmt.Errorf("sync consume queue file %s: %w", f.path, err)
		}
	}
	if len(dirty) > 0 {
		if err := q.fs.SyncDir(q.dir); err != nil {
			return fmt.Errorf("sync consume queue directory %s: %w", q.dir, err)
		}
	}
	return nil
}

// Reset removes every entry and file, for a rebuild from the log.
func (q *Queue) Reset() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, f := range q.files {
		f.file.Close()
		if err := q.fs.Remove(f.path); err != nil {
			return fmt.Errorf("remove consume queue file %s: %w", f.path, err)
		}
	}
	q.files, q.bases, q.first = nil, nil, 0
	q.next, q.lastStored, q.lastPos = 0, 0, -1
	return nil
}

// Close closes the files.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var err error
	for _, f := range q.files {
		if e := f.file.Close(); e != nil && err == nil {
			err = e
		}
	}
	q.files = nil
	return err
}
