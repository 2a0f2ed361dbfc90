package store

import (
	"errors"
	"fmt"
	"sort"

	"github.com/sluicehq/sluice/broker/store/commitlog"
	"github.com/sluicehq/sluice/broker/store/cq"
	"github.com/sluicehq/sluice/broker/store/record"
)

// StoredBatch is one batch as read back: its header and its payload exactly
// as the producer sent it. The first batch of a read may start before the
// offset asked for; skip Offset-BaseOffset messages of it.
type StoredBatch struct {
	record.Header
	Pos     int64
	Payload []byte
}

// ReadOptions bounds and filters a read. The zero value reads up to 1 MiB.
type ReadOptions struct {
	// MaxBytes bounds the records returned; at least one batch is returned
	// even if it is larger. Default 1 MiB.
	MaxBytes int
	// MaxBatches bounds the number of batches. Default 1,024.
	MaxBatches int
	// MatchTags, if set, is asked with each batch's tag bloom; batches it
	// rejects are skipped without being read from the log.
	MatchTags func(bloom uint64) bool
	// Buf is reused for the records when large enough.
	Buf []byte
}

// ReadResult is what Read found.
type ReadResult struct {
	Batches []StoredBatch
	// Next is the offset to read from next: after the last batch returned
	// or skipped by the tag filter.
	Next int64
	// Buf holds the records; pass it back in ReadOptions.Buf to reuse it.
	Buf []byte
}

const (
	defaultReadBytes   = 1 << 20
	defaultReadBatches = 1024
)

// Read returns the batches of a queue from offset on. Reading at the end of
// the queue returns no batches and Next == offset. An offset below the
// queue's minimum returns ErrOffsetGone. A corrupt batch is never returned:
// batches before it are, and a read starting at it gets a *CorruptError
// whose Next says where to go on.
func (s *Store) Read(topic string, queue uint32, offset int64, opt ReadOptions) (ReadResult, error) {
	q, err := s.queue(QueueID{topic, queue})
	if err != nil {
		return ReadResult{}, err
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = defaultReadBytes
	}
	if opt.MaxBatches <= 0 {
		opt.MaxBatches = defaultReadBatches
	}
	res := ReadResult{Next: offset, Buf: opt.Buf[:0]}
	lo, hi := q.cq.Range()
	if offset < lo {
		return res, fmt.Errorf("%s offset %d, minimum %d: %w", q.id, offset, lo, ErrOffsetGone)
	}
	if offset >= hi {
		return res, nil
	}
	idx, err := q.cq.Find(offset)
	if errors.Is(err, cq.ErrNoEntry) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	var entries [64]cq.Entry
	var scratch [64 * cq.EntrySize]byte
	bytes := 0
	for len(res.Batches) < opt.MaxBatches {
		n, err := q.cq.Entries(idx, entries[:], scratch[:])
		if errors.Is(err, cq.ErrNoEntry) || n == 0 {
			break
		}
		if err != nil {
			return res, err
		}
		for _, e := range entries[:n] {
			idx++
			if e.Next() <= offset {
				continue // before the offset asked for
			}
			if opt.MatchTags != nil && !opt.MatchTags(e.TagBloom) {
				res.Next = e.Next()
				continue
			}
			if len(res.Batches) > 0 && (bytes+int(e.Size) > opt.MaxBytes || len(res.Batches) >= opt.MaxBatches) {
				return res, nil
			}
			b, buf, err := s.readBatch(res.Buf, e)
			if err != nil {
				var ce *CorruptError
				if errors.As(err, &ce) && len(res.Batches) == 0 {
					ce.Next = e.Next()
				}
				if len(res.Batches) > 0 {
					return res, nil // the next read starts at the bad batch
				}
				return res, err
			}
			res.Buf = buf
			res.Batches = append(res.Batches, b)
			res.Next = e.Next()
			bytes += int(e.Size)
		}
	}
	return res, nil
}

// readBatch reads and checks the record of e, appending it to buf. If buf
// has to grow, payloads of earlier batches keep pointing into the old one,
// which stays valid.
func (s *Store) readBatch(buf []byte, e cq.Entry) (StoredBatch, []byte, error) {
	start := len(buf)
	if cap(buf)-start < int(e.Size) {
		nb := make([]byte, start, max(2*cap(buf), start+int(e.Size), 64<<10))
		copy(nb, buf)
		buf = nb
	}
	rec := buf[start : start+int(e.Size)]
	path, err := s.log.ReadAt(rec, e.Pos)
	if err != nil {
		if errors.Is(err, commitlog.ErrOutOfRange) {
			return StoredBatch{}, buf, fmt.Errorf("batch at offset %d: %w", e.BaseOffset, ErrOffsetGone)
		}
		return StoredBatch{}, buf, err
	}
	h, payload, err := record.Decode(rec, nil)
	if err == nil && (h.BaseOffset != e.BaseOffset || h.Count != e.Count) {
		err = fmt.Errorf("%w: record holds offsets %d+%d, index says %d+%d",
			record.ErrCorrupt, h.BaseOffset, h.Count, e.BaseOffset, e.Count)
	}
	if err != nil {
		_, off := s.log.Locate(e.Pos)
		ce := &CorruptError{File: path, Offset: off, Pos: e.Pos, Next: e.Next(), Err: err}
		s.reportCorrupt(ce)
		return StoredBatch{}, buf, ce
	}
	return StoredBatch{Header: h, Pos: e.Pos, Payload: payload}, buf[:start+int(e.Size)], nil
}

// reportCorrupt logs and counts a corrupt record once per position.
func (s *Store) reportCorrupt(ce *CorruptError) {
	s.corruptMu.Lock()
	_, seen := s.corruptSeen[ce.Pos]
	s.corruptSeen[ce.Pos] = struct{}{}
	s.corruptMu.Unlock()
	if !seen {
		s.m.corruptRecords.Inc()
		s.lg.Error("corrupt record; it will not be served", "file", ce.File, "offset", ce.Offset, "err", ce.Err)
	}
}

func (s *Store) queue(id QueueID) (*queue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.queueLocked(id, false)
}

// OffsetForTime returns the first offset of the queue stored at or after
// ms (Unix milliseconds), or the queue's next offset if there is none.
func (s *Store) OffsetForTime(topic string, queue uint32, ms int64) (int64, error) {
	q, err := s.queue(QueueID{topic, queue})
	if err != nil {
		return 0, err
	}
	return q.cq.SearchTime(ms)
}

// KeyHit is a message found by key.
type KeyHit struct {
	Topic  string
	Queue  uint32
	Offset int64
	Pos    int64
}

// LookupKey finds the messages of topic whose key hashes like key, newest
// last, at most limit (0: no limit). Hash collisions are possible: compare
// the keys of the messages read back.
func (s *Store) LookupKey(topic, key string, limit int) ([]KeyHit, error) {
	hash := record.KeyHash(topic, key)
	entries, err := s.keys.Lookup(hash)
	if err != nil {
		return nil, err
	}
	var hits []KeyHit
	var buf []byte
	for _, e := range entries {
		rec, b, err := s.ReadRecord(e.Pos, buf)
		buf = b
		if err != nil || rec.Topic != topic {
			continue // removed by retention, not yet visible, or corrupt (counted)
		}
		for _, k := range rec.Keys {
			if k.Index == e.Index && k.Hash == hash {
				hits = append(hits, KeyHit{Topic: topic, Queue: rec.Queue, Offset: rec.BaseOffset + int64(k.Index), Pos: e.Pos})
				break
			}
		}
	}
	if limit > 0 && len(hits) > limit {
		hits = hits[len(hits)-limit:]
	}
	return hits, nil
}

// QueueInfo describes one queue.
type QueueInfo struct {
	QueueID
	Min, Next    int64 // offsets held: [Min, Next)
	LastStoredMs int64
}

// Queues lists every queue, sorted by topic and queue.
func (s *Store) Queues() []QueueInfo {
	s.mu.Lock()
	out := make([]QueueInfo, 0, len(s.queues))
	for id, q := range s.queues {
		lo, hi := q.cq.Range()
		out = append(out, QueueInfo{QueueID: id, Min: lo, Next: hi, LastStoredMs: q.cq.LastStoredMs()})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Queue < out[j].Queue
	})
	return out
}

// QueueRange returns the offsets [min, next) a queue holds.
func (s *Store) QueueRange(topic string, queue uint32) (int64, int64, error) {
	q, err := s.queue(QueueID{topic, queue})
	if err != nil {
		return 0, 0, err
	}
	lo, hi := q.cq.Range()
	return lo, hi, nil
}
