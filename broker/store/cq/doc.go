// Package cq holds consume queues: per (topic, queue), a compact index from
// queue offset to the batch's place in the commit log.
//
// A consume queue has one entry per stored batch, not per message: a batch of
// 1,000 messages costs 48 bytes of index. The entries of a queue are spread
// over files of EntriesPerFile entries each, named by the index of their
// first entry (20 digits), so that retention can delete the oldest whole
// files. Entry layout (little-endian):
//
//	0             8             16      20      24            32
//	+-------------+-------------+-------+-------+-------------+
//	| base offset | log position| size  | count | tag bloom   |
//	+-------------+-------------+-------+-------+-------------+
//	32            40  41      44      48
//	+-------------+---+-------+-------+
//	| stored at ms|att|  0 0 0| crc32c|
//	+-------------+---+-------+-------+
//
// crc32c covers bytes 0..43. Base offset is the queue offset of the batch's
// first message; count messages follow it. Stored-at times are made
// non-decreasing along a queue by the store, so finding the first offset at
// or after a time is a binary search over the entries: the consume queue is
// also the queue's time index.
//
// Invariants: entries are appended in increasing log position and offset
// order; base offsets may skip (a batch lost to corruption leaves a gap),
// never go back. The base offsets of all entries are kept in memory (8 bytes
// per batch) so that finding the entry for an offset is a binary search in
// memory followed by one read of the entry.
package cq
