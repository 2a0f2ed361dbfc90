package spool

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// makeRoomLocked waits for, or makes, room for need more bytes.
func (s *Spool) makeRoomLocked(ctx context.Context, need int64) error {
	var blockedSince time.Time
	defer func() {
		if !blockedSince.IsZero() {
			s.m.blocked.Add(time.Since(blockedSince).Seconds())
		}
	}()
	for {
		if s.closed {
			return ErrClosed
		}
		if s.size+need <= s.cfg.MaxSize {
			return nil
		}
		if len(s.segs) == 1 && s.segs[0].size > 0 && (s.cfg.WhenFull == WhenFullDropOldest || s.ackPos >= s.writeEnd) {
			// One segment fills the spool (SegmentSize was larger before
			// a restart): start another so this one can go.
			if err := s.rotateLocked(); err != nil {
				return err
			}
			if err := s.deleteAckedLocked(); err != nil {
				return err
			}
			continue
		}
		if s.cfg.WhenFull == WhenFullDropOldest && len(s.segs) > 1 {
			if err := s.dropOldestLocked(); err != nil {
				return err
			}
			continue
		}
		if blockedSince.IsZero() {
			blockedSince = time.Now()
		}
		room := s.roomCh
		s.mu.Unlock()
		select {
		case <-room:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			return fmt.Errorf("spool full (%d of %d bytes), waiting for room: %w", s.size, s.cfg.MaxSize, ctx.Err())
		}
	}
}

// dropOldestLocked deletes the oldest segment, which is not the last,
// with its records; the unacknowledged ones are counted and logged.
func (s *Spool) dropOldestLocked() error {
	old, next := s.segs[0], s.segs[1]
	if dropped := int64(next.firstSeq) - int64(max(s.ackSeq, old.firstSeq)); dropped > 0 {
		from := max(s.ackPos, old.start)
		oldest := s.appendTimeAt(old, from)
		readUnacked := max(int64(min(s.readSeq, next.firstSeq))-int64(max(s.ackSeq, old.firstSeq)), 0)
		s.m.dropped.Add(int(dropped))
		s.lg.Warn("spool full: dropped the oldest records (when_full: drop_oldest)",
			"records", dropped, "of_them_read_not_acknowledged", readUnacked,
			"bytes", old.end()-from, "oldest_appended", oldest,
			"oldest_age", ageOf(oldest), "newest_age", ageOf(unixNano(old.lastAt)),
			"file", s.segPath(old.start))
	}
	if s.ackPos < next.start {
		s.ackPos, s.ackSeq, s.cpDirty = next.start, next.firstSeq, true
	}
	if s.readPos < next.start {
		// A Next reading the dropped segment right now sees readGen move
		// and starts again here: no reader gets half a dropped record.
		s.readPos, s.readSeq = next.start, next.firstSeq
		s.readGen++
	}
	return s.deleteOldestLocked()
}

// appendTimeAt reads the append time of the record at stream position
// pos of g; zero if it cannot.
func (s *Spool) appendTimeAt(g *segment, pos int64) time.Time {
	f, err := s.fs.Open(s.segPath(g.start))
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	var b [headerSize]byte
	if _, err := f.ReadAt(b[:], pos-g.start); err != nil {
		return time.Time{}
	}
	return unixNano(decodeHeader(b[:]).at)
}

func unixNano(ns int64) time.Time {
	if ns <= 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func ageOf(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return time.Since(t).Round(time.Millisecond)
}

// deleteAckedLocked deletes the segments, but the last, that hold only
// acknowledged records.
func (s *Spool) deleteAckedLocked() error {
	var errs []error
	for len(s.segs) > 1 && s.segs[0].end() <= s.ackPos {
		if err := s.deleteOldestLocked(); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// deleteOldestLocked removes s.segs[0], which must not be the last. Its
// bytes stop counting even if the file cannot be removed: it is never
// read again, and Open deletes it as acknowledged.
func (s *Spool) deleteOldestLocked() error {
	old := s.segs[0]
	s.segs = s.segs[1:]
	s.size -= old.size
	s.wakeLocked(&s.roomCh)
	if err := s.fs.Remove(s.segPath(old.start)); err != nil {
		return fmt.Errorf("spool delete segment: %w", err)
	}
	return nil
}

// Len is the number of records appended and not yet acknowledged (or
// dropped). Records in a damaged range found at Open count as none.
func (s *Spool) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.nextSeq - s.ackSeq)
}

// Size is the number of bytes in the spool's segment files.
func (s *Spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}
