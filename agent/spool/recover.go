package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// scanBufferSize is the read buffer of Open's scan: what it holds in
// memory besides one record.
const scanBufferSize = 256 << 10

// recover loads the checkpoint and segments: acknowledged segments are
// deleted, the others counted, and the last one validated, its torn tail
// cut.
func (s *Spool) recover() error {
	starts, err := s.listSegments()
	if err != nil {
		return err
	}
	s.loadCheckpoint(starts)
	for i, start := range starts {
		info, err := s.fs.Stat(s.segPath(start))
		if err != nil {
			return fmt.Errorf("stat segment: %w", err)
		}
		g := &segment{start: start, size: info.Size(), firstSeq: s.nextSeq}
		last := i == len(starts)-1
		if !last && g.end() <= s.ackPos {
			if err := s.fs.Remove(s.segPath(start)); err != nil {
				return fmt.Errorf("delete acknowledged segment: %w", err)
			}
			continue
		}
		if err := s.scan(g, last); err != nil {
			return err
		}
		s.segs = append(s.segs, g)
		s.size += g.size
	}
	if len(s.segs) == 0 || s.segs[len(s.segs)-1].end() < s.ackPos {
		// Fresh, or the checkpoint is past every file left: start anew
		// at the checkpoint so positions never go back.
		g := &segment{start: s.ackPos, firstSeq: s.nextSeq}
		f, err := s.fs.Create(s.segPath(g.start))
		if err != nil {
			return fmt.Errorf("create segment: %w", err)
		}
		f.Close() // reopened below, as an existing last segment is
		if err := s.fs.SyncDir(s.cfg.Dir); err != nil {
			return fmt.Errorf("create segment: %w", err)
		}
		s.segs = append(s.segs, g)
	}
	last := s.segs[len(s.segs)-1]
	if s.w, err = s.fs.OpenReadWrite(s.segPath(last.start)); err != nil {
		return fmt.Errorf("open last segment: %w", err)
	}
	s.writeEnd, s.synced = last.end(), last.end()
	s.syncedSeq = s.nextSeq
	s.readPos, s.readSeq = max(s.ackPos, s.segs[0].start), s.ackSeq
	s.readMax = s.readPos
	return nil
}

func (s *Spool) listSegments() ([]int64, error) {
	names, err := s.fs.List(s.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var starts []int64
	for _, n := range names { // List sorts; the names are zero-padded
		if v, ok := strings.CutSuffix(n, ".seg"); ok {
			if start, err := strconv.ParseInt(v, 10, 64); err == nil && start >= 0 {
				starts = append(starts, start)
			}
		}
	}
	return starts, nil
}

// loadCheckpoint sets the acknowledged position and sequence; without a
// readable checkpoint every record left is read again.
func (s *Spool) loadCheckpoint(starts []int64) {
	first := int64(0)
	if len(starts) > 0 {
		first = starts[0]
	}
	s.ackPos = first
	f, err := s.fs.Open(filepath.Join(s.cfg.Dir, checkpointName))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var b []byte
	if err == nil {
		b, err = io.ReadAll(io.LimitReader(f, checkpointSize+1))
		f.Close()
	}
	var pos int64
	var seq uint64
	if err == nil {
		pos, seq, err = decodeCheckpoint(b)
	}
	if err != nil {
		s.lg.Error("spool: checkpoint unreadable; every record left is read again", "err", err)
		return
	}
	s.ackPos, s.ackSeq, s.nextSeq = max(pos, first), seq, seq
}

// scan counts g's records after the checkpoint. The last segment, the
// only one a crash can tear, is validated record by record: a torn tail
// is cut, a damaged record followed by good ones is left for Next to
// skip. Older segments are only walked, header to header; Next checks
// their CRCs.
func (s *Spool) scan(g *segment, last bool) error {
	f, err := s.fs.Open(s.segPath(g.start))
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	off := max(s.ackPos-g.start, 0)
	r := bufio.NewReaderSize(io.NewSectionReader(f, off, g.size-off), scanBufferSize)
	var payload []byte
	for off < g.size {
		rec, size, err := s.scanRecord(r, g.size-off, last, &payload)
		if err == nil {
			if rec != nil {
				g.lastAt = decodeHeader(rec).at
			}
			s.nextSeq++
			off += size
			continue
		}
		if !last {
			s.nextSeq++ // Next skips the rest as one damaged record
			return nil
		}
		if size > 0 && s.validAt(f, off+size, g.size) {
			s.nextSeq++ // a bit flip mid-file: Next skips just it
			off += size
			r.Reset(io.NewSectionReader(f, off, g.size-off))
			continue
		}
		return s.cutTornTail(g, off, err)
	}
	return nil
}

// scanRecord reads one record's header (and, if check, its payload into
// *buf, verified). It returns the header bytes (nil when not checked),
// the record size, and why the record is not whole; size is non-zero
// if the length is plausible.
func (s *Spool) scanRecord(r *bufio.Reader, room int64, check bool, buf *[]byte) ([]byte, int64, error) {
	hb, err := r.Peek(headerSize)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %d bytes, short of a header", ErrCorrupt, min(room, headerSize))
	}
	h := decodeHeader(hb)
	if err := h.checkLength(room - headerSize); err != nil {
		return nil, 0, err
	}
	size := headerSize + int64(h.length)
	if !check {
		_, err := r.Discard(int(size))
		return nil, size, err
	}
	var hdr [headerSize]byte
	copy(hdr[:], hb)
	r.Discard(headerSize)
	if int64(cap(*buf)) < int64(h.length) {
		*buf = make([]byte, h.length)
		s.peakRead = max(s.peakRead, int64(h.length))
	}
	p := (*buf)[:h.length]
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, size, fmt.Errorf("%w: payload unreadable: %v", ErrCorrupt, err)
	}
	if checksum(hdr[:], p) != h.crc {
		return nil, size, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return hdr[:], size, nil
}

// validAt reports whether a whole record with a good CRC starts at off:
// then damage before it is a bit flip, not a torn tail.
func (s *Spool) validAt(f io.ReaderAt, off, size int64) bool {
	if size-off < headerSize {
		return false
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, off, size-off), scanBufferSize)
	var buf []byte
	_, _, err := s.scanRecord(r, size-off, true, &buf)
	return err == nil
}

// cutTornTail truncates the last segment at off, where a crash left an
// incomplete write: nothing from there on was acknowledged to an appender.
func (s *Spool) cutTornTail(g *segment, off int64, why error) error {
	s.m.tornTails.Inc()
	s.lg.Warn("spool: cutting a torn tail left by a crash", "file", s.segPath(g.start),
		"offset", off, "bytes", g.size-off, "problem", why)
	w, err := s.fs.OpenReadWrite(s.segPath(g.start))
	if err != nil {
		return fmt.Errorf("cut torn tail: %w", err)
	}
	defer w.Close()
	if err := w.Truncate(off); err != nil {
		return fmt.Errorf("cut torn tail: %w", err)
	}
	if err := w.Sync(); err != nil {
		return fmt.Errorf("cut torn tail: %w", err)
	}
	g.size = off
	return nil
}
