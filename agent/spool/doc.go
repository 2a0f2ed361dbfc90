// Package spool is the agent's disk queue: while the broker is away or
// slower than the sources, the shipper appends encoded batches here, and
// a forwarder reads them back in order once the broker takes them again.
//
// # Files
//
// The spool is a directory of segment files, each named by the position
// of its first byte in the spool's endless byte stream (%020d.seg), and
// a checkpoint file holding the position up to which entries are
// acknowledged. An entry is
//
//	0        4        8
//	+--------+--------+----------------+
//	| length | crc32c | payload ...    |
//	+--------+--------+----------------+
//
// with length (uint32, little-endian) counting the payload, at most
// MaxEntry, and crc32c (Castagnoli) covering length and payload. A new
// segment starts when the last one reaches SegmentSize; a segment is
// deleted once every entry in it is acknowledged. The checkpoint is
//
//	position u64 | crc32c u32
//
// written atomically (temp file, fsync, rename).
//
// # Guarantees
//
// Append returns once the entry is fsynced; concurrent appends share an
// fsync. Entries are read in append order. An entry read but not
// acknowledged before a crash is read again after it (at least once);
// the checkpoint is written at most once a second and at Close, so up to
// a second of acknowledged entries may also be read again.
//
// Open re-validates the entries after the checkpoint: a torn tail (a
// crash in the middle of a write) is cut; an entry whose CRC fails is
// skipped with a log line and counted; a length that cannot be right
// ends that segment (its rest is skipped, logged and counted). Nothing
// here makes the agent crash-loop on a damaged spool.
//
// # Full
//
// The spool holds at most MaxSize bytes. In "block" mode Append waits for
// acknowledgements to free a segment; in "drop_oldest" mode the oldest
// segment is deleted, its unacknowledged entries counted in
// sluice_agent_spool_dropped_entries_total and logged.
package spool
