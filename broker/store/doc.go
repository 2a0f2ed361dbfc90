// Package store is the broker's persistent log: one commit log for all
// topics, a consume queue per (topic, queue), a key index, checkpoints,
// recovery, retention and a disk guard.
//
// # Layers
//
// Each layer knows only the one below it (Pebble's discipline):
//
//	store       topics, queues, offsets, flush, recovery, retention
//	├── record     the bytes of one batch: header, keys, payload, CRC
//	├── commitlog  segment files of records, positions, sync, truncation
//	├── cq         per-queue index: offset -> (position, size, tag bloom, time)
//	├── keyindex   key hash -> position, in immutable sorted runs
//	└── vfs        every file operation, so tests can inject faults
//
// The store imports nothing else of sluice.
//
// # Directory
//
//	DIR/LOCK                         flock: one process per store
//	DIR/commitlog/<20-digit pos>.seg commit-log segments
//	DIR/cq/<topic>/<queue>/<n>.cq    consume queue files (see package cq)
//	DIR/keyindex/run-<from>-<to>.kx  key index runs (see package keyindex)
//	DIR/checkpoint                   recovery checkpoint (format in checkpoint.go)
//	DIR/clean                        present only after a clean shutdown
//
// # Append
//
// Append takes the append lock, assigns the batch the queue's next offsets,
// seals the record (CRC32C over header, keys and payload) and writes it at
// the end of the log with a positioned write. The payload is stored exactly
// as given. A write that fails (ENOSPC, EIO) is cut off again before Append
// returns, so no partial record is ever visible, and offsets are not
// consumed.
//
// # Flush modes and what each can lose
//
// sync (default): one flush goroutine fsyncs; appends that arrive while an
// fsync runs wait for the next one, so one fsync acknowledges every batch
// written before it (group commit). Append returns only after the fsync
// that covers its batch, and a batch becomes visible to readers at the same
// moment. Loses: nothing that was acknowledged. A crash can lose batches
// whose Append had not returned; their producers retry them.
//
// async: Append returns once the record is written to the operating system
// and it is visible to readers at once; the flush goroutine fsyncs every
// FlushInterval (200ms by default). A process crash (kill -9) loses nothing,
// since the kernel still has the pages. A machine crash or power loss can
// lose up to FlushInterval of acknowledged batches, including ones readers
// already saw; after such a crash a queue may hand out those offsets again
// to new batches.
//
// If an fsync fails, the kernel may have dropped the dirty pages, so the
// store can no longer tell what is durable: it fails every waiting append
// and refuses new ones with ErrFailed until it is reopened (reads go on).
// Reopening re-validates the log.
//
// # Recovery
//
// Every CheckpointInterval the consume queues and the key index are synced
// and the checkpoint records the log position P below which they are
// complete. Open cuts queue entries at or after P, re-validates the log from
// P to its end by CRC, and dispatches the valid records again. A bad record
// with valid records after it in its segment is corrupt in the middle: it is
// skipped, logged and counted, and the records after it stay readable. A bad
// record with nothing valid after it is a torn tail: the segment is cut
// there. A consume queue that is missing or damaged below P is rebuilt from
// the record headers of the whole log. The work after a crash therefore
// grows with what was written since the last checkpoint, not with the size
// of the log. Close writes a final checkpoint and the clean marker.
//
// Every read checks the record's CRC; a corrupt record is never served:
// the read returns a *CorruptError naming the segment file and byte offset,
// and the metric sluice_store_corrupt_records_total counts it once.
//
// # Retention and the disk guard
//
// Whole segments are deleted, oldest first, while the oldest is older than
// MaxAge (by its last write) or the log is larger than MaxSize; the active
// segment never is. Consume-queue files and key-index runs that point only
// into deleted segments go with them. While the disk holding the store is
// fuller than DiskFullRatio, or after a write hit ENOSPC, appends fail with
// ErrDiskFull and reads go on; the guard checks every MaintenanceInterval and
// lets appends through again once there is room.
package store
