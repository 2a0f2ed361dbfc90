// Package keyindex is the broker's persistent index from message-key hash to
// where the message is in the commit log: the record's log position and the
// message's index in its batch. It answers "find messages by key" (the admin
// `message query TOPIC --key K`). Hashes come from record.KeyHash(topic, key),
// so they already include the topic. Callers check every hit against the
// record itself: a hash collision or a stale entry costs one wasted read,
// a missing entry loses a message, so the index may over-report, never
// under-report what was checkpointed.
//
// It knows nothing of records, segments or topics; it stores (hash, pos,
// index) triples and owns one directory of run files.
//
// # Structure
//
// Like an LSM tree without levels: Add appends to an in-memory slice (one
// checkpoint interval's worth); Checkpoint(upTo) sorts the entries below upTo
// and writes them as an immutable run file covering the log range
// [from, upTo), where from is the previous checkpoint. Lookup scans memory
// and binary-searches every run. When there are more than MaxRuns runs,
// Checkpoint merges 2 to 8 adjacent runs of similar size into one
// (size-tiered; see pickCompaction), streaming a k-way merge, synchronously
// and at most once per call. DropBefore deletes runs once retention has
// removed the whole range of log they index.
//
// # Invariants
//
//   - A run file exists under its final name only complete and synced: it is
//     written as run-....kx.tmp, synced, renamed, and the directory synced.
//     Open removes leftover .tmp files.
//   - Checkpoint(upTo) returns nil only once every entry added with
//     Pos < upTo is in a synced run. The store calls it only after the log
//     is durable up to upTo, and commits upTo as its checkpoint ("durable")
//     only after it returns nil.
//   - Open(durable) deletes every run starting at or after durable: it was
//     written after the store's last committed checkpoint, and the store
//     replays the log from durable, adding those entries again.
//   - A merge writes its output before removing its inputs. The output's
//     range covers theirs, so Open deletes any run whose range another
//     (undamaged) run covers: a crash leaves the inputs or the output.
//   - Ranges of runs are disjoint but for one case: a merge that included the
//     run of the last Checkpoint, followed by a crash before the store
//     committed that checkpoint, leaves a run extending past durable; the
//     store replays that part and the next runs overlap it. The entries in
//     the overlap index the same durable log records, and Lookup and merges
//     drop duplicates.
//   - Every block is checked (CRC, fence, order) each time it is read; a
//     damaged run is reported by CorruptRuns, never panics a reader, and is
//     never merged (a merge would hide the damage).
//   - Add, Checkpoint, DropBefore and Close have one owner; Lookup may run
//     concurrently with them. Run files are reference counted, so a Lookup
//     reads its runs without holding the lock while a merge or DropBefore
//     replaces them, and Add never waits for run I/O.
//
// # Run file format
//
// All integers little-endian. A run named run-<from>-<upTo>.kx (20-digit
// zero-padded decimals) with N entries in blocks of B entries (B = 512 when
// written by this version; a reader takes any B from the header):
//
//	0      4     6     8              16             24             32      36
//	+------+-----+-----+--------------+--------------+--------------+-------+
//	|magic | ver |  B  |     from     |     upTo     |  N (count)   | crc32c|
//	+------+-----+-----+--------------+--------------+--------------+-------+
//	|<------------------ covered by the header crc ---------------->|
//
//	36: ceil(N/B) blocks, all full but the last:
//	+-------------------------------------------------------+--------+
//	| min(B, rest) entries, sorted by (hash, pos, index)    | crc32c |
//	|  +--------------+--------------+----------+           | of the |
//	|  | hash  u64    | pos  i64     | index u32| = 20 bytes| entries|
//	|  +--------------+--------------+----------+           | before |
//	+-------------------------------------------------------+--------+
//	... more blocks ...
//
//	fence, at 36 + 20N + 4*ceil(N/B):
//	+----------------------------------------------------+--------+
//	| ceil(N/B) x u64: the first hash of each block      | crc32c |
//	+----------------------------------------------------+--------+
//
//	file size = 36 + 20N + 12*ceil(N/B) + 4, exactly.
//
// The fields and checks:
//
//   - magic is "SKX1"; ver is 1; from < upTo, and they must equal the name's.
//   - CRC32C (Castagnoli) everywhere. The header crc covers bytes 0-31; each
//     block crc covers that block's entries; the fence crc covers the fence.
//   - Open reads only the header and the fence (0.08% of the file): it checks
//     the header crc, that the file size is exactly what N and B imply (N is
//     bounded by the file size before anything is sized by it, and a torn
//     file is the wrong size), the fence crc and that the fence is sorted.
//     It keeps the fence in memory, so a lookup reads one block (10 KiB) per
//     run with one ReadAt and checks its crc, that it starts with the
//     fence's hash and that it is sorted, then binary-searches it. Per-block
//     crcs keep Open cheap however large the index, at the price of finding
//     a flipped bit in an entry only when the block is next read.
//   - The header is written last (at offset 0, after the blocks and fence
//     were streamed through a buffered writer), so N need not be known in
//     advance and equal entries can be dropped while merging.
package keyindex
