package store

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by every call on a closed store.
	ErrClosed = errors.New("store is closed")
	// ErrDiskFull is returned by Append while the disk is above the
	// configured ratio or a write ran out of space. Reads go on, and
	// appends resume by themselves once space is freed.
	ErrDiskFull = errors.New("disk almost full")
	// ErrFailed is returned by Append after an fsync failed: the kernel may
	// have dropped the unsynced pages, so the store cannot tell what is on
	// disk. Reads go on; reopening the store re-validates the log.
	ErrFailed = errors.New("store failed and is read-only until reopened")
	// ErrUnknownQueue is returned when reading a queue that was never written.
	ErrUnknownQueue = errors.New("unknown topic or queue")
	// ErrOffsetGone means the offset was deleted by retention; read from
	// the queue's minimum offset instead.
	ErrOffsetGone = errors.New("offset removed by retention")
	// ErrNotFound is returned by ReadRecord for a position that holds no
	// readable record (never written, not yet visible, or removed).
	ErrNotFound = errors.New("no record at this position")
)

// CorruptError reports a record that failed its checks. Such a record is
// never served; the records around it stay readable.
type CorruptError struct {
	File   string // segment file holding the record
	Offset int64  // byte offset of the record in File
	Pos    int64  // position of the record in the commit log
	// Next is the queue offset after the corrupt batch, where a consumer
	// can go on; 0 when unknown (found by a scan, not a queue read).
	Next int64
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt record in %s at byte %d (log position %d): %v", e.File, e.Offset, e.Pos, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }
