package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// ErrNotRead is returned by Ack for an entry Next has not returned.
var ErrNotRead = errors.New("spool entry was not read")

// Entry is one record read from the spool.
type Entry struct {
	// Seq numbers records in append order: stable across restarts,
	// increasing by one per record appended.
	Seq uint64
	// Data is the record's payload; it is the caller's.
	Data []byte
	// Appended is when the record was appended.
	Appended time.Time

	end int64 // stream position after the record
}

// Next returns the next record's payload, as NextEntry, and a function
// acknowledging it and every record before it: the shape agent/ship's
// Spool interface takes.
func (s *Spool) Next(ctx context.Context) ([]byte, func() error, error) {
	e, err := s.NextEntry(ctx)
	if err != nil {
		return nil, nil, err
	}
	return e.Data, func() error { return s.Ack(e) }, nil
}

// NextEntry returns the next unread durable record in append order,
// blocking until there is one, ctx ends or the spool closes. Damaged
// records are skipped (logged and counted). It reads one record from
// disk at a time.
func (s *Spool) NextEntry(ctx context.Context) (Entry, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for {
		pos, seq, gen, seg, segEnd, err := s.waitReadable(ctx)
		if err != nil {
			return Entry{}, err
		}
		e, next, skipped, rerr := s.readRecord(seg, segEnd, pos)
		s.mu.Lock()
		if s.readGen != gen {
			s.mu.Unlock() // rewound or dropped meanwhile: start again
			continue
		}
		if rerr != nil {
			s.mu.Unlock()
			return Entry{}, rerr
		}
		s.readPos = next
		if skipped != nil {
			s.readSeq++
			s.mu.Unlock()
			s.reportCorrupt(seg, pos-seg.start, next-pos, skipped)
			continue
		}
		e.Seq = seq
		s.readSeq++
		s.readMax = max(s.readMax, next)
		s.mu.Unlock()
		return e, nil
	}
}

// waitReadable waits until a durable record is at the read position and
// returns it with the segment holding it and that segment's readable end.
func (s *Spool) waitReadable(ctx context.Context) (pos int64, seq, gen uint64, seg segment, segEnd int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return 0, 0, 0, segment{}, 0, ErrClosed
		}
		for i, g := range s.segs {
			if s.readPos < g.start {
				s.readPos = g.start // a segment file went missing
			}
			end := min(g.end(), s.synced)
			if s.readPos < end {
				return s.readPos, s.readSeq, s.readGen, *s.segs[i], end, nil
			}
		}
		data := s.dataCh
		s.readWait = true
		s.mu.Unlock()
		select {
		case <-data:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			return 0, 0, 0, segment{}, 0, ctx.Err()
		}
	}
}

// readRecord reads the record at stream position pos of g, whose
// readable bytes end at segEnd. A damaged record is not an error: it
// comes back as skipped, with next past the damage.
func (s *Spool) readRecord(g segment, segEnd, pos int64) (e Entry, next int64, skipped, err error) {
	f, err := s.readerFor(g.start)
	if err != nil {
		return Entry{}, 0, nil, err
	}
	off := pos - g.start
	var hb [headerSize]byte
	if segEnd-pos < headerSize {
		return Entry{}, segEnd, fmt.Errorf("%w: %d bytes, short of a header", ErrCorrupt, segEnd-pos), nil
	}
	if _, err := f.ReadAt(hb[:], off); err != nil {
		return Entry{}, 0, nil, fmt.Errorf("spool read %s at %d: %w", s.segPath(g.start), off, err)
	}
	h := decodeHeader(hb[:])
	if err := h.checkLength(segEnd - pos - headerSize); err != nil {
		return Entry{}, segEnd, fmt.Errorf("%w; the rest of the segment is skipped", err), nil
	}
	data := make([]byte, h.length)
	s.peakRead = max(s.peakRead, int64(len(data)))
	if _, err := f.ReadAt(data, off+headerSize); err != nil && !(err == io.EOF && len(data) == 0) {
		return Entry{}, 0, nil, fmt.Errorf("spool read %s at %d: %w", s.segPath(g.start), off, err)
	}
	next = pos + headerSize + int64(h.length)
	if checksum(hb[:], data) != h.crc {
		return Entry{}, next, fmt.Errorf("%w: checksum mismatch", ErrCorrupt), nil
	}
	return Entry{Data: data, Appended: unixNano(h.at), end: next}, next, nil, nil
}

// readerFor returns segment start's file, open for reading.
func (s *Spool) readerFor(start int64) (vfs.File, error) {
	if s.rf != nil && s.rfStart == start {
		return s.rf, nil
	}
	if s.rf != nil {
		s.rf.Close()
		s.rf = nil
	}
	f, err := s.fs.Open(s.segPath(start))
	if err != nil {
		return nil, fmt.Errorf("spool open segment for reading: %w", err)
	}
	s.rf, s.rfStart = f, start
	return f, nil
}

func (s *Spool) reportCorrupt(g segment, off, skipped int64, what error) {
	s.m.corrupt.Inc()
	s.lg.Error("spool: damaged record skipped", "file", s.segPath(g.start), "offset", off,
		"bytes_skipped", skipped, "problem", what)
}

// Ack acknowledges e and every record before it: the read checkpoint
// advances (persisted within CheckpointInterval, and at Close) and
// segments holding only acknowledged records are deleted, once the
// checkpoint past them is on disk. Acking an entry older than the
// checkpoint does nothing.
func (s *Spool) Ack(e Entry) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if e.end <= s.ackPos {
		s.mu.Unlock()
		return nil
	}
	if e.end > s.readMax {
		s.mu.Unlock()
		return fmt.Errorf("spool ack of record %d: %w", e.Seq, ErrNotRead)
	}
	s.m.acked.Add(int(e.Seq + 1 - s.ackSeq))
	s.ackPos, s.ackSeq, s.cpDirty = e.end, e.Seq+1, true
	done := len(s.segs) > 1 && s.segs[0].end() <= s.ackPos
	s.mu.Unlock()
	if !done {
		return nil
	}
	if err := s.persistCheckpoint(); err != nil {
		// The segments go anyway (a full disk needs the room); a crash
		// before the next checkpoint only renumbers the records left.
		s.lg.Warn("spool: persisting the checkpoint before deleting acknowledged segments", "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.deleteAckedLocked()
}

// Rewind makes Next return the unacknowledged records again, from the
// checkpoint on: for a reader whose sends failed.
func (s *Spool) Rewind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readPos, s.readSeq = s.ackPos, s.ackSeq
	s.readGen++
}
