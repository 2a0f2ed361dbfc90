package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

// File is an open file. ReadAt and WriteAt may be called concurrently with
// each other; Write appends at the current offset and must not race with
// another Write on the same File.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	// Sync flushes the file's data (and the metadata needed to read it back,
	// such as its size) to stable storage.
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// FS is the file system as the store sees it.
type FS interface {
	// Create creates or truncates name and opens it read-write.
	Create(name string) (File, error)
	// OpenReadWrite opens name read-write, creating it if missing, without
	// truncating it. The file offset starts at 0; Seek is not offered, use
	// WriteAt or Truncate.
	OpenReadWrite(name string) (File, error)
	// Open opens name read-only.
	Open(name string) (File, error)
	Remove(name string) error
	Rename(oldname, newname string) error
	MkdirAll(dir string, perm os.FileMode) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes creations, renames and removals in dir durable.
	SyncDir(dir string) error
	// DiskUsage reports the space of the file system holding path.
	DiskUsage(path string) (DiskUsage, error)
	// Lock takes an exclusive advisory lock on name, creating it, so that
	// two processes never open the same store. The lock is released by
	// Close, or by the kernel when the process dies.
	Lock(name string) (io.Closer, error)
}

// DiskUsage is the space of one file system, in bytes.
type DiskUsage struct {
	Total uint64
	// Avail is what an unprivileged writer may still use.
	Avail uint64
}

// UsedFraction is the share of the disk that cannot be written any more,
// between 0 and 1, as df reports it.
func (d DiskUsage) UsedFraction() float64 {
	if d.Total == 0 {
		return 0
	}
	if d.Avail > d.Total {
		return 0
	}
	return float64(d.Total-d.Avail) / float64(d.Total)
}

// Default is the operating system's file system.
var Default FS = osFS{}

type osFS struct{}

func (osFS) Create(name string) (File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
}

func (osFS) OpenReadWrite(name string) (File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
}

func (osFS) Open(name string) (File, error) { return os.Open(name) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (osFS) DiskUsage(path string) (DiskUsage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return DiskUsage{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := uint64(st.Bsize)
	return DiskUsage{Total: st.Blocks * bs, Avail: st.Bavail * bs}, nil
}

func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: held by another process", name)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return f, nil
}

// WriteFileAtomic writes data to name so that after a crash name holds either
// its old content or data, never a mix: it writes a temporary file, syncs it,
// renames it over name and syncs the directory.
func WriteFileAtomic(fs FS, name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return errors.Join(err, fs.Remove(tmp))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return errors.Join(err, fs.Remove(tmp))
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fs.Rename(tmp, name); err != nil {
		return err
	}
	return fs.SyncDir(filepath.Dir(name))
}

// ReadFile reads the whole of name.
func ReadFile(fs FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Exists reports whether name exists; errors other than "not found" count as
// existing so that callers do not silently recreate a file they cannot see.
func Exists(fs FS, name string) bool {
	_, err := fs.Stat(name)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
