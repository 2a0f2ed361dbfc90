package store

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/broker/store/commitlog"
	"github.com/sluicehq/sluice/broker/store/cq"
	"github.com/sluicehq/sluice/broker/store/keyindex"
	"github.com/sluicehq/sluice/broker/store/record"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

// recover opens the log, the key index and every consume queue, and brings
// the queues and index up to the end of the log:
//
//  1. The checkpoint gives P, the position below which queues and index
//     are durable. Queue entries at or after P are cut.
//  2. A queue that holds fewer offsets than the checkpoint recorded lost
//     files or was damaged: it is rebuilt from the record headers of the
//     whole log (slow, but only after damage).
//  3. The log from P to its end is re-validated record by record (CRC):
//     valid records are dispatched again; a corrupt record followed by
//     valid ones is skipped and counted; a bad tail is cut (torn write).
//
// So the work after a crash grows with the log written since the last
// checkpoint, not with the size of the log.
func (s *Store) recover() error {
	start := time.Now()
	cleanPath := filepath.Join(s.cfg.Dir, cleanFile)
	clean := vfs.Exists(s.fs, cleanPath)
	if clean {
		// From now on a crash must not look like a clean shutdown.
		if err := s.fs.Remove(cleanPath); err != nil {
			return fmt.Errorf("remove clean-shutdown marker: %w", err)
		}
		if err := s.fs.SyncDir(s.cfg.Dir); err != nil {
			return fmt.Errorf("sync store directory: %w", err)
		}
	}
	cp, err := s.readCheckpoint()
	if err != nil {
		// Without a checkpoint everything is re-derived from the log.
		s.lg.Warn("checkpoint unreadable; rebuilding indexes from the whole log", "err", err)
		cp = checkpointData{Queues: map[QueueID]int64{}}
	}
	s.log, err = commitlog.Open(commitlog.Config{FS: s.fs, Dir: filepath.Join(s.cfg.Dir, "commitlog"), SegmentSize: s.cfg.SegmentSize})
	if err != nil {
		return err
	}
	cp.Pos = min(max(cp.Pos, s.log.Start()), s.log.End())
	s.keys, err = keyindex.Open(keyindex.Config{FS: s.fs, Dir: filepath.Join(s.cfg.Dir, "keyindex")}, cp.Pos)
	if err != nil {
		return err
	}
	s.m.corruptIndexRuns.Add(len(s.keys.CorruptRuns()))
	rebuild, err := s.loadQueues(cp)
	if err != nil {
		return err
	}
	if len(rebuild) > 0 {
		if err := s.rebuildQueues(rebuild, cp); err != nil {
			return err
		}
	}
	tail := s.log.End() - cp.Pos
	if err := s.replay(cp.Pos); err != nil {
		return err
	}
	for _, q := range s.queues {
		q.assignNext, q.lastStoredMs = q.cq.Next(), q.cq.LastStoredMs()
	}
	s.visibleEnd.Store(s.log.End())
	s.durableEnd.Store(s.log.End())
	// Make what was replayed durable and move the checkpoint past it, so a
	// crash now does not repeat the work.
	if _, err := s.log.Sync(); err != nil {
		return err
	}
	if err := s.checkpoint(); err != nil {
		return err
	}
	d := time.Since(start)
	s.m.recoverySeconds.Set(d.Seconds())
	s.lg.Info("store opened", "clean_shutdown", clean, "log_start", s.log.Start(), "log_end", s.log.End(),
		"replayed_bytes", tail, "rebuilt_queues", len(rebuild), "queues", len(s.queues), "took", d)
	return nil
}

// loadQueues opens every consume queue on disk and those the checkpoint
// names, cuts them at pos, and returns the queues that must be rebuilt.
func (s *Store) loadQueues(cp checkpointData) (map[QueueID]bool, error) {
	ids := map[QueueID]bool{}
	for id := range cp.Queues {
		ids[id] = true
	}
	root := filepath.Join(s.cfg.Dir, "cq")
	topics, _ := s.fs.List(root) // a missing directory is a store without queues
	for _, t := range topics {
		if ValidTopic(t) != nil {
			continue
		}
		qs, err := s.fs.List(filepath.Join(root, t))
		if err != nil {
			return nil, fmt.Errorf("list consume queues of %s: %w", t, err)
		}
		for _, qn := range qs {
			if n, err := strconv.ParseUint(qn, 10, 32); err == nil {
				ids[QueueID{t, uint32(n)}] = true
			}
		}
	}
	rebuild := map[QueueID]bool{}
	for id := range ids {
		dir := filepath.Join(root, id.Topic, strconv.FormatUint(uint64(id.Queue), 10))
		c, rep, err := cq.Open(s.fs, dir, s.cfg.CQEntriesPerFile)
		if err != nil {
			return nil, err
		}
		s.queues[id] = &queue{id: id, cq: c, dir: dir}
		if err := c.TruncateFromPos(cp.Pos); err != nil {
			return nil, err
		}
		if err := c.DropBefore(s.log.Start()); err != nil {
			return nil, err
		}
		want, known := cp.Queues[id]
		switch {
		case rep.Damaged != nil:
			s.lg.Error("consume queue damaged; rebuilding it from the log", "queue", id, "err", rep.Damaged)
			rebuild[id] = true
		case known && c.Next() < want:
			s.lg.Warn("consume queue behind its checkpoint; rebuilding it from the log",
				"queue", id, "next", c.Next(), "checkpoint_next", want)
			rebuild[id] = true
		}
	}
	return rebuild, nil
}

// rebuildQueues recreates the listed queues from the record headers of the
// log below pos; entries from pos on come from replay.
func (s *Store) rebuildQueues(ids map[QueueID]bool, cp checkpointData) error {
	start := time.Now()
	for id := range ids {
		if err := s.queues[id].cq.Reset(); err != nil {
			return err
		}
	}
	err := s.scan(s.log.Start(), cp.Pos, false, func(p int64, h *record.Header) {
		id := QueueID{h.Topic, h.Queue}
		if q := s.queues[id]; ids[id] && q != nil && h.BaseOffset >= q.cq.Next() {
			if err := q.cq.Append(entryOf(p, h)); err != nil {
				s.lg.Error("rebuild consume queue", "queue", id, "err", err)
			}
		}
	})
	for id := range ids {
		// Retention may have removed every batch of the queue: keep its
		// offsets moving forward anyway.
		s.queues[id].cq.SetNext(cp.Queues[id])
	}
	s.lg.Info("rebuilt consume queues from the log", "queues", len(ids), "took", time.Since(start))
	return err
}

// replay re-validates the log from pos to its end and dispatches every
// valid record to its consume queue and the key index.
func (s *Store) replay(pos int64) error {
	return s.scan(pos, s.log.End(), true, func(p int64, h *record.Header) {
		id := QueueID{h.Topic, h.Queue}
		q := s.queues[id]
		if q == nil {
			var err error
			if q, err = s.queueLocked(id, true); err != nil {
				s.lg.Error("replay: open consume queue", "queue", id, "err", err)
				return
			}
		}
		if h.BaseOffset < q.cq.Next() {
			return // already indexed (a queue rebuilt past pos)
		}
		if err := q.cq.Append(entryOf(p, h)); err != nil {
			s.lg.Error("replay: consume queue append", "queue", id, "err", err)
		}
		for _, k := range h.Keys {
			s.keys.Add(keyindex.Entry{Hash: k.Hash, Pos: p, Index: k.Index})
		}
	})
}

// scan walks the records in [from, to). With full set it reads and checks
// every record whole; otherwise only headers. A bad record followed by
// valid ones in its segment is reported as corrupt and skipped; a bad tail
// of a segment is cut off, since nothing valid follows it.
func (s *Store) scan(from, to int64, full bool, fn func(pos int64, h *record.Header)) error {
	var buf []byte
	var keys []record.KeyRef
	for _, seg := range s.log.Segments() {
		p, end := max(from, seg.Start), min(to, seg.End())
		for p < end {
			var h record.Header
			var n int
			var err error
			buf, n, err = s.readRecord(buf, p, seg.End(), full)
			if err == nil {
				if full {
					h, _, err = record.Decode(buf[:n], keys)
				} else {
					h, err = record.DecodeHeader(buf, keys)
				}
			}
			if err == nil {
				fn(p, &h)
				keys = h.Keys
				p += int64(n)
				continue
			}
			next, rerr := s.resync(p+1, seg.End())
			if rerr != nil {
				return rerr
			}
			if next < 0 {
				s.lg.Warn("cutting torn tail of segment", "segment", seg.Path, "at", p-seg.Start,
					"bytes", seg.End()-p, "err", err)
				if err := s.log.TruncateSegment(p); err != nil {
					return err
				}
				s.m.tornTails.Inc()
				break
			}
			s.reportCorrupt(&CorruptError{File: seg.Path, Offset: p - seg.Start, Pos: p, Err: err})
			p = next
		}
	}
	return nil
}

// readRecord reads the record at p (whole, or its header when full is
// false) into buf, checking its length against the end of its segment.
func (s *Store) readRecord(buf []byte, p, end int64, full bool) ([]byte, int, error) {
	if end-p < 12 {
		return buf, 0, record.ErrShort
	}
	buf = grow(buf, record.HeaderSize)
	if _, err := s.log.ReadAt(buf[:12], p); err != nil {
		return buf, 0, err
	}
	n, err := record.PeekLength(buf[:12])
	if err != nil {
		return buf, 0, err
	}
	if p+int64(n) > end {
		return buf, 0, record.ErrShort
	}
	want := n
	if !full {
		// Read the fixed header, then as much as its topic and keys need.
		if _, err := s.log.ReadAt(buf[:record.HeaderSize], p); err != nil {
			return buf, 0, err
		}
		want = min(n, record.HeaderSize+int(le16(buf[14:]))+record.KeyRefSize*int(le32(buf[88:])))
	}
	buf = grow(buf, want)
	if _, err := s.log.ReadAt(buf[:want], p); err != nil {
		return buf, 0, err
	}
	return buf[:want], n, nil
}

// resync looks for the next valid record in [from, end) and returns
// its position, or -1 if there is none.
func (s *Store) resync(from, end int64) (int64, error) {
	const window = 1 << 20
	buf := make([]byte, window+12)
	var rec []byte
	for base := from; base < end; base += window {
		n := int(min(int64(len(buf)), end-base))
		if _, err := s.log.ReadAt(buf[:n], base); err != nil {
			return 0, err
		}
		for i := 0; i+12 <= n && base+int64(i) < end; i++ {
			if le32(buf[i:]) != record.Magic {
				continue
			}
			p := base + int64(i)
			var size int
			var err error
			if rec, size, err = s.readRecord(rec, p, end, true); err != nil {
				continue
			}
			if _, _, err := record.Decode(rec[:size], nil); err == nil {
				return p, nil
			}
		}
	}
	return -1, nil
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// entryOf is the consume-queue entry of the record h at pos.
func entryOf(pos int64, h *record.Header) cq.Entry {
	return cq.Entry{BaseOffset: h.BaseOffset, Pos: pos, Size: h.Length, Count: h.Count,
		TagBloom: h.TagBloom, StoredAtMs: h.StoredAtMs, Attr: h.Attr}
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n, max(n, 2*cap(b)))
	}
	return b[:n]
}
