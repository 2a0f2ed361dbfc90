// Package spool is the agent's disk queue. While the broker is away or
// slower than the sources, the shipper appends encoded batches here and
// reads them back, in order, once the broker takes them again.
//
// It owns one directory: segment files, a checkpoint file and a lock
// file (so two processes never share a spool). The model is
// VictoriaMetrics' lib/persistentqueue: a chunked file queue with a size
// cap and a reader checkpoint.
//
// # Files
//
// The spool is an endless byte stream cut into segment files, each named
// by the stream position of its first byte (%020d.seg). A new segment
// starts when the last one would pass SegmentSize; a segment is deleted
// once every record in it is acknowledged. A record is
//
//	0        4        8                16
//	+--------+--------+----------------+----------------+
//	| length | crc32c | appended at    | payload ...    |
//	| u32 LE | u32 LE | i64 LE (ns)    | length bytes   |
//	+--------+--------+----------------+----------------+
//
// with crc32c (Castagnoli) covering the length, the time and the payload.
// A length above MaxRecordSize, or running past its segment, is damage
// and is never allocated. The checkpoint file is
//
//	+-------------+-------------+--------+
//	| position u64| seq u64     | crc32c |
//	+-------------+-------------+--------+
//
// the stream position up to which records are acknowledged and the
// sequence number of the next record, written atomically (temp file,
// fsync, rename, fsync of the directory).
//
// # Use
//
// One reader: NextEntry returns records in order, Ack(e) acknowledges e
// and everything before it, Rewind reads the unacknowledged ones again
// (after a failed send). Next is NextEntry with an acknowledgement
// function, the shape agent/ship's Spool interface takes.
//
// # Invariants and guarantees
//
//   - Append returns nil only once its record is fsynced; concurrent
//     appenders share one fsync (group commit). An Append that returns an
//     error leaves no partial record: a failed write or fsync cuts the
//     file back to its durable end.
//   - Next returns only durable records, in append order, reading one
//     record at a time from disk (never the whole spool), so a reader
//     holds at most one record in memory.
//   - Delivery is at least once. The checkpoint is persisted every
//     CheckpointInterval, before acknowledged segments are deleted, and
//     at Close; after a crash, records acknowledged since the last
//     persisted checkpoint, and records read but not acknowledged, are
//     read again. Entry.Seq numbers stay the same across restarts
//     (except after drop_oldest dropped records just before a crash).
//   - Only the last segment can be torn by a crash (a segment is fsynced
//     before the next one starts): Open validates it and cuts a torn tail,
//     with a log line. A record whose CRC fails is skipped; a length that
//     cannot be right skips the rest of its segment. Each is logged once
//     with file, offset and problem, and counted in
//     sluice_agent_spool_corrupt_skipped_total. Nothing here crash-loops.
//   - The segments hold at most MaxSize bytes. With when_full: block,
//     Append waits for acknowledgements to free a segment. With
//     drop_oldest, the oldest segment goes, its unacknowledged records
//     counted in sluice_agent_spool_dropped_records_total and logged with
//     how many and how old; records are dropped whole, a segment at a
//     time, and a reader skips to the oldest record kept. A record read
//     but not yet acknowledged when its segment goes counts as dropped
//     (its Ack is then a no-op): the count errs towards too many.
package spool
