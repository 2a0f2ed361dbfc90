package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// ErrCorrupt wraps every damaged-entry error.
var ErrCorrupt = errors.New("corrupt spool entry")

// Next returns the next entry in append order, blocking until there is
// one or ctx ends, and a function that acknowledges it and every entry
// before it. The data is the caller's.
func (s *Spool) Next(ctx context.Context) ([]byte, func() error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return nil, nil, ErrClosed
		}
		if s.readPos < s.writeEnd {
			data, end, err := s.readLocked()
			if err != nil {
				return nil, nil, err
			}
			if data == nil {
				continue // moved past a segment end or a damaged entry
			}
			seq := s.readSeq
			s.readSeq++
			return data, func() error { return s.ack(end, seq) }, nil
		}
		ch := s.data
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			s.mu.Lock()
			return nil, nil, ctx.Err()
		}
		s.mu.Lock()
	}
}

// readLocked reads the entry at readPos and advances past it. It returns
// nil data (and no error) when it only moved: to the next segment, or
// past an entry found damaged at Open.
func (s *Spool) readLocked() (data []byte, end int64, err error) {
	g := s.segmentAt(s.readPos)
	if g == nil {
		return nil, 0, fmt.Errorf("spool: read position %d is in no segment", s.readPos)
	}
	off := s.readPos - g.start
	if off >= g.limit {
		s.readPos = g.end() // the rest of g is damage, already reported
		return nil, 0, nil
	}
	f, err := s.readerFor(g)
	if err != nil {
		return nil, 0, err
	}
	var hdr [headerSize]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return nil, 0, fmt.Errorf("spool read %s at %d: %w", s.segPath(g.start), off, err)
	}
	n := int64(binary.LittleEndian.Uint32(hdr[:4]))
	end = s.readPos + headerSize + n
	if s.bad[s.readPos] {
		s.readPos = end
		return nil, 0, nil
	}
	// Entries below limit were checked at Open or written by this process.
	if n > MaxEntry || off+headerSize+n > g.limit {
		s.readPos = g.end()
		return nil, 0, nil
	}
	data = make([]byte, n)
	if _, err := f.ReadAt(data, off+headerSize); err != nil {
		return nil, 0, fmt.Errorf("spool read %s at %d: %w", s.segPath(g.start), off, err)
	}
	if crc32.Update(crc32.Checksum(hdr[:4], castagnoli), castagnoli, data) != binary.LittleEndian.Uint32(hdr[4:]) {
		// Damaged after Open (the disk changed under us): skip it.
		s.reportCorrupt(g, off, "checksum mismatch")
		s.readPos = end
		return nil, 0, nil
	}
	s.readPos = end
	return data, end, nil
}

func (s *Spool) segmentAt(pos int64) *segment {
	for _, g := range s.segs {
		if pos >= g.start && pos < g.end() {
			return g
		}
	}
	return nil
}

// readerFor returns an open file of segment g for reading.
func (s *Spool) readerFor(g *segment) (vfs.File, error) {
	if s.rf != nil && s.rfStart == g.start {
		return s.rf, nil
	}
	if s.rf != nil {
		s.rf.Close()
		s.rf = nil
	}
	f, err := s.fs.Open(s.segPath(g.start))
	if err != nil {
		return nil, fmt.Errorf("spool open segment: %w", err)
	}
	s.rf, s.rfStart = f, g.start
	return f, nil
}

func (s *Spool) reportCorrupt(g *segment, off int64, what string) {
	s.m.corrupt.Inc()
	s.lg.Error("spool entry damaged; skipped", "file", s.segPath(g.start), "offset", off, "problem", what)
}

// ack acknowledges every entry up to end (sequence seq).
func (s *Spool) ack(end, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if end > s.ackPos {
		s.ackPos = end
		s.cpDirty = true
	}
	if seq+1 > s.ackSeq {
		s.m.acked.Add(int(seq + 1 - s.ackSeq))
		s.ackSeq = seq + 1
	}
	// Segments wholly acknowledged go, except the one being written.
	for len(s.segs) > 1 && s.segs[0].end() <= s.ackPos {
		if err := s.deleteSegmentLocked(); err != nil {
			return err
		}
	}
	if time.Since(s.lastCP) >= checkpointInterval {
		return s.writeCheckpointLocked()
	}
	return nil
}
