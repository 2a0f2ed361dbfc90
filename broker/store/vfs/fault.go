package vfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// Op names a file system operation that FaultFS can fail.
type Op int

const (
	OpCreate Op = iota
	OpOpen
	OpWrite
	OpSync
	OpTruncate
	OpRemove
	OpRename
	OpSyncDir
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpOpen:
		return "open"
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	case OpTruncate:
		return "truncate"
	case OpRemove:
		return "remove"
	case OpRename:
		return "rename"
	case OpSyncDir:
		return "syncdir"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// Injector decides whether op on the named file fails, and with what error.
// Returning nil lets the operation through.
type Injector func(op Op, name string) error

// FaultFS wraps an FS and injects failures. The zero value is not usable; use
// NewFaultFS. All methods are safe for concurrent use.
type FaultFS struct {
	inner FS

	mu       sync.Mutex
	inject   Injector
	noSpace  bool    // every write stores half its bytes, then fails with ENOSPC
	usedFrac float64 // when > 0, DiskUsage reports this share of the disk as used
}

// NewFaultFS wraps inner.
func NewFaultFS(inner FS) *FaultFS { return &FaultFS{inner: inner} }

// Inject sets the injector; nil removes it.
func (f *FaultFS) Inject(in Injector) {
	f.mu.Lock()
	f.inject = in
	f.mu.Unlock()
}

// SetNoSpace simulates a full disk: while on, every write stores only the
// first half of its bytes and then fails with ENOSPC, the worst case a real
// file system can produce, and DiskUsage reports no space left.
func (f *FaultFS) SetNoSpace(on bool) {
	f.mu.Lock()
	f.noSpace = on
	f.mu.Unlock()
}

// SetUsedFraction makes DiskUsage report frac (0..1) of the disk as used;
// 0 reports the real figures again.
func (f *FaultFS) SetUsedFraction(frac float64) {
	f.mu.Lock()
	f.usedFrac = frac
	f.mu.Unlock()
}

func (f *FaultFS) check(op Op, name string) error {
	f.mu.Lock()
	in := f.inject
	f.mu.Unlock()
	if in == nil {
		return nil
	}
	return in(op, name)
}

func (f *FaultFS) full() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.noSpace
}

func (f *FaultFS) wrap(file File, err error, name string) (File, error) {
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *FaultFS) Create(name string) (File, error) {
	if err := f.check(OpCreate, name); err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	file, err := f.inner.Create(name)
	return f.wrap(file, err, name)
}

func (f *FaultFS) OpenReadWrite(name string) (File, error) {
	if err := f.check(OpOpen, name); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	file, err := f.inner.OpenReadWrite(name)
	return f.wrap(file, err, name)
}

func (f *FaultFS) Open(name string) (File, error) {
	if err := f.check(OpOpen, name); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	file, err := f.inner.Open(name)
	return f.wrap(file, err, name)
}

func (f *FaultFS) Remove(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return f.inner.Remove(name)
}

func (f *FaultFS) Rename(oldname, newname string) error {
	if err := f.check(OpRename, oldname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return f.inner.Rename(oldname, newname)
}

func (f *FaultFS) Lock(name string) (io.Closer, error) { return f.inner.Lock(name) }

func (f *FaultFS) MkdirAll(dir string, perm os.FileMode) error { return f.inner.MkdirAll(dir, perm) }

func (f *FaultFS) List(dir string) ([]string, error) { return f.inner.List(dir) }

func (f *FaultFS) Stat(name string) (os.FileInfo, error) { return f.inner.Stat(name) }

func (f *FaultFS) SyncDir(dir string) error {
	if err := f.check(OpSyncDir, dir); err != nil {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: err}
	}
	return f.inner.SyncDir(dir)
}

func (f *FaultFS) DiskUsage(path string) (DiskUsage, error) {
	f.mu.Lock()
	noSpace, frac := f.noSpace, f.usedFrac
	f.mu.Unlock()
	du, err := f.inner.DiskUsage(path)
	if err != nil {
		return du, err
	}
	switch {
	case noSpace:
		du.Avail = 0
	case frac > 0:
		du.Avail = uint64(float64(du.Total) * (1 - frac))
	}
	return du, nil
}

type faultFile struct {
	File
	fs   *FaultFS
	name string
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fs.full() {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
	}
	if err := f.fs.check(OpWrite, f.name); err != nil {
		// A failed write may still have stored a prefix: model the worst case.
		n, _ := f.File.Write(p[:len(p)/2])
		return n, &fs.PathError{Op: "write", Path: f.name, Err: err}
	}
	return f.File.Write(p)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fs.full() {
		n, _ := f.File.WriteAt(p[:len(p)/2], off)
		return n, &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
	}
	if err := f.fs.check(OpWrite, f.name); err != nil {
		n, _ := f.File.WriteAt(p[:len(p)/2], off)
		return n, &fs.PathError{Op: "write", Path: f.name, Err: err}
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.check(OpSync, f.name); err != nil {
		return &fs.PathError{Op: "sync", Path: f.name, Err: err}
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.check(OpTruncate, f.name); err != nil {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: err}
	}
	return f.File.Truncate(size)
}
