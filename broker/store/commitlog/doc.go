// Package commitlog is the byte-addressed, append-only log under the broker:
// a sequence of segment files that together hold every record of every topic
// in arrival order.
//
// A position is a byte offset in the whole log. Segment files are named by
// the position of their first byte, as 20 zero-padded decimal digits, so a
// directory listing sorted by name is sorted by position:
//
//	00000000000000000000.seg   positions [0, 1073741000)
//	00000000001073741000.seg   positions [1073741000, ...)
//
// Records never span segments: a record that does not fit in the active
// segment starts a new one (a record larger than a whole segment gets a
// segment of its own). A new segment starts where the previous one ends, so
// positions are contiguous, except after recovery cut a torn tail from a
// sealed segment; such holes are never referenced.
//
// The package knows nothing of topics or of the record format beyond the
// bytes it is handed. Invariants:
//   - End() only moves past bytes that were written in full; a write that
//     fails is cut off again before Append returns, so no reader and no
//     later record ever sees a partial record.
//   - Append is called by one writer at a time (the store's append lock);
//     ReadAt, Sync and segment deletion may run concurrently with it.
//   - Sync makes every byte below the End() it observed durable, including
//     the directory entries of segments created since the last Sync.
package commitlog
