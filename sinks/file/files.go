package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// openFile is a file the sink holds open for appending.
type openFile struct {
	path string
	f    *os.File
	// size is the file's length: what was there when opened plus what
	// the sink appended.
	size int64
	// opened is when the sink opened it (rotation by age); lastWrite when
	// it last appended to it (idle closing).
	opened, lastWrite time.Time
	// dirty is set when written to since the last fsync.
	dirty bool
	// prev and next link the LRU list: head is the most recently used.
	prev, next *openFile
}

// openFiles is the open files by path and in order of use.
type openFiles struct {
	byPath     map[string]*openFile
	head, tail *openFile
}

func (l *openFiles) pushFront(f *openFile) {
	f.prev, f.next = nil, l.head
	if l.head != nil {
		l.head.prev = f
	}
	l.head = f
	if l.tail == nil {
		l.tail = f
	}
	l.byPath[f.path] = f
}

func (l *openFiles) remove(f *openFile) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
	delete(l.byPath, f.path)
}

// fileLocked returns the open file of path, opening it (and closing the
// least recently used one when max_open_files are open).
func (s *Sink) fileLocked(path string, now time.Time) (*openFile, error) {
	if f, ok := s.files.byPath[path]; ok {
		if s.files.head != f {
			s.files.remove(f)
			s.files.pushFront(f)
		}
		return f, nil
	}
	for len(s.files.byPath) >= s.maxOpen {
		s.m.lruCloses.Inc()
		if err := s.closeFileLocked(s.files.tail); err != nil {
			return nil, err
		}
	}
	f, err := s.openLocked(path)
	if err != nil {
		return nil, err
	}
	of := &openFile{path: path, f: f.file, size: f.size, opened: now, lastWrite: now}
	s.files.pushFront(of)
	s.m.opens.Inc()
	s.m.openFiles.Set(float64(len(s.files.byPath)))
	return of, nil
}

type opened struct {
	file *os.File
	size int64
}

// openLocked opens path for appending, creating it and its directories
// with the configured permissions; it never truncates.
func (s *Sink) openLocked(path string) (opened, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = s.createLocked(path)
	}
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			return opened{}, err // it names the operation and the path already
		}
		return opened{}, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return opened{}, fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return opened{}, fmt.Errorf("open %s: not a regular file", path)
	}
	return opened{f, st.Size()}, nil
}

// createLocked makes a new file and notes the directories whose entries
// changed, for fsync.
func (s *Sink) createLocked(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, s.dirMode); err != nil {
			return nil, err
		}
		s.dirtyDirs[filepath.Dir(dir)] = struct{}{}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, s.mode)
	if errors.Is(err, fs.ErrExist) { // made by someone else meanwhile
		return os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	}
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(s.mode); err != nil { // past the umask
		f.Close()
		return nil, err
	}
	s.dirtyDirs[dir] = struct{}{}
	return f, nil
}

// appendLocked writes chunk at the end of f. A failed write is truncated
// away so the file holds whole events only.
func (s *Sink) appendLocked(f *openFile, chunk []byte, now time.Time) error {
	n, err := f.f.Write(chunk)
	s.m.bytes.Add(n)
	if err != nil {
		err = fmt.Errorf("write %s: %w", f.path, err)
		if n > 0 {
			if terr := f.f.Truncate(f.size); terr != nil {
				err = fmt.Errorf("%w; truncating the partial write: %w", err, terr)
			}
		}
		f.dirty = false // nothing of it is to be kept
		s.files.remove(f)
		s.m.openFiles.Set(float64(len(s.files.byPath)))
		f.f.Close()
		return err
	}
	f.size += int64(n)
	f.dirty = true
	f.lastWrite = now
	return nil
}

// closeFileLocked closes f, fsyncing it first if it holds data not yet
// fsynced and fsync is on.
func (s *Sink) closeFileLocked(f *openFile) error {
	s.files.remove(f)
	s.m.openFiles.Set(float64(len(s.files.byPath)))
	var err error
	if f.dirty && s.fsync {
		if serr := f.f.Sync(); serr != nil {
			err = &syncError{fmt.Errorf("fsync %s: %w", f.path, serr)}
		}
	}
	if cerr := f.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close %s: %w", f.path, cerr)
	}
	return err
}

// syncLocked fsyncs every file written since the last fsync, and the
// directories with new entries.
func (s *Sink) syncLocked() error {
	for f := s.files.head; f != nil; {
		next := f.next
		if f.dirty && s.fsync {
			if err := f.f.Sync(); err != nil {
				f.dirty = false
				s.closeFileLocked(f) // reopened, and its data written again, by the collector's retry
				return &syncError{fmt.Errorf("fsync %s: %w", f.path, err)}
			}
		}
		f.dirty = false
		f = next
	}
	return s.syncDirsLocked()
}

func (s *Sink) syncDirsLocked() error {
	if !s.fsync {
		clear(s.dirtyDirs)
		return nil
	}
	for dir := range s.dirtyDirs {
		if err := syncDir(dir); err != nil {
			return &syncError{err}
		}
		delete(s.dirtyDirs, dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// rotateLocked closes f and renames it to its rotated name; the next
// write to its path starts a new file. It then hands the rotated file to
// the compressor, or removes rotated files beyond keep.
func (s *Sink) rotateLocked(f *openFile, now time.Time) error {
	path := f.path
	if err := s.closeFileLocked(f); err != nil {
		return err
	}
	name, err := rotatedName(path, now)
	if err != nil {
		return err
	}
	if err := os.Rename(path, name); err != nil {
		return fmt.Errorf("rotate %s: %w", path, err)
	}
	s.dirtyDirs[filepath.Dir(path)] = struct{}{}
	s.m.rotations.Inc()
	switch {
	case s.compressor != nil:
		s.compressor.enqueue(path)
	case s.keep > 0:
		n, err := pruneRotated(path, s.keep)
		s.m.removed.Add(n)
		if err != nil {
			s.lg.Warn("file sink: removing old rotated files", "sink", s.name, "error", err)
		}
	}
	return nil
}

// rotatedStamp is the layout of the time in a rotated file's name.
const rotatedStamp = "20060102T150405"

// Suffixes of compressed rotated files.
var compressedExts = []string{".gz", ".zst"}

// rotatedName is path.<UTC time of rotation>, with -1, -2... added when
// a file of that second exists (compressed or not).
func rotatedName(path string, now time.Time) (string, error) {
	base := path + "." + now.UTC().Format(rotatedStamp)
	name := base
	for i := 1; ; i++ {
		taken, err := nameTaken(name)
		if err != nil {
			return "", err
		}
		if !taken {
			return name, nil
		}
		name = base + "-" + strconv.Itoa(i)
	}
}

func nameTaken(name string) (bool, error) {
	for _, ext := range append([]string{""}, compressedExts...) {
		_, err := os.Lstat(name + ext)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("rotate: %w", err)
		}
	}
	return false, nil
}

// rotated is a rotated file of a path.
type rotated struct {
	name       string // in the path's directory
	stamp      string
	seq        int
	compressed bool
}

// listRotated returns the rotated files of path, oldest first.
func listRotated(path string) ([]rotated, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list rotated files of %s: %w", path, err)
	}
	var out []rotated
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if r, ok := parseRotated(rest); ok {
			r.name = e.Name()
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b rotated) int {
		if c := strings.Compare(a.stamp, b.stamp); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	return out, nil
}

// parseRotated parses what follows "<path>." in a rotated file's name:
// a stamp, an optional -N and an optional compression suffix.
func parseRotated(rest string) (rotated, bool) {
	var r rotated
	for _, ext := range compressedExts {
		if trimmed, ok := strings.CutSuffix(rest, ext); ok {
			rest, r.compressed = trimmed, true
			break
		}
	}
	if len(rest) < len(rotatedStamp) {
		return r, false
	}
	r.stamp = rest[:len(rotatedStamp)]
	if _, err := time.Parse(rotatedStamp, r.stamp); err != nil {
		return r, false
	}
	if seq := rest[len(rotatedStamp):]; seq != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(seq, "-"))
		if err != nil || n < 1 || seq[0] != '-' {
			return r, false
		}
		r.seq = n
	}
	return r, true
}

// pruneRotated removes the oldest rotated files of path beyond keep.
func pruneRotated(path string, keep int) (removed int, err error) {
	files, err := listRotated(path)
	if err != nil {
		return 0, err
	}
	dir := filepath.Dir(path)
	var errs []error
	for _, r := range files[:max(len(files)-keep, 0)] {
		if err := os.Remove(filepath.Join(dir, r.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}
