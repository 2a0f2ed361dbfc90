package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// encodeCheckpoint is position u64 | crc32c u32.
func encodeCheckpoint(pos int64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(pos))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeCheckpoint decodes a checkpoint file.
func decodeCheckpoint(b []byte) (int64, error) {
	if len(b) != 12 {
		return 0, fmt.Errorf("%w: checkpoint of %d bytes, want 12", ErrCorrupt, len(b))
	}
	if crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, fmt.Errorf("%w: checkpoint checksum mismatch", ErrCorrupt)
	}
	pos := int64(binary.LittleEndian.Uint64(b))
	if pos < 0 {
		return 0, fmt.Errorf("%w: checkpoint position %d", ErrCorrupt, pos)
	}
	return pos, nil
}

func (s *Spool) writeCheckpointLocked() error {
	if !s.cpDirty {
		return nil
	}
	path := s.cfg.Dir + "/" + checkpointName
	if err := vfs.WriteFileAtomic(s.fs, path, encodeCheckpoint(s.ackPos)); err != nil {
		return fmt.Errorf("spool checkpoint: %w", err)
	}
	s.cpDirty, s.lastCP = false, time.Now()
	return nil
}

// recover loads the segments and checkpoint and re-validates every entry
// after the checkpoint.
func (s *Spool) recover() error {
	names, err := s.fs.List(s.cfg.Dir)
	if err != nil {
		return err
	}
	var starts []int64
	for _, n := range names {
		if v, ok := strings.CutSuffix(n, ".seg"); ok {
			if start, err := strconv.ParseInt(v, 10, 64); err == nil && start >= 0 {
				starts = append(starts, start)
			}
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	s.ackPos = s.loadCheckpoint(starts)
	for i, start := range starts {
		info, err := s.fs.Stat(s.segPath(start))
		if err != nil {
			return err
		}
		g := &segment{start: start, size: info.Size(), limit: info.Size(), firstSeq: s.nextSeq}
		if g.end() <= s.ackPos && i < len(starts)-1 {
			if err := s.fs.Remove(s.segPath(start)); err != nil {
				return err
			}
			continue
		}
		if err := s.scan(g, i == len(starts)-1); err != nil {
			return err
		}
		s.segs = append(s.segs, g)
	}
	if len(s.segs) == 0 {
		s.segs = []*segment{{start: s.ackPos, firstSeq: 0}}
		f, err := s.fs.Create(s.segPath(s.ackPos))
		if err != nil {
			return err
		}
		s.w = f
		if err := s.fs.SyncDir(s.cfg.Dir); err != nil {
			return err
		}
	} else {
		last := s.segs[len(s.segs)-1]
		if s.w, err = s.fs.OpenReadWrite(s.segPath(last.start)); err != nil {
			return err
		}
	}
	last := s.segs[len(s.segs)-1]
	s.writeEnd = last.end()
	s.readPos = max(s.ackPos, s.segs[0].start)
	return nil
}

// loadCheckpoint returns the acknowledged position; without a readable
// checkpoint everything left is read again.
func (s *Spool) loadCheckpoint(starts []int64) int64 {
	fallback := int64(0)
	if len(starts) > 0 {
		fallback = starts[0]
	}
	b, err := vfs.ReadFile(s.fs, s.cfg.Dir+"/"+checkpointName)
	if err != nil {
		if !errors.Is(err, io.EOF) && !isNotExist(err) {
			s.lg.Error("spool checkpoint unreadable; replaying every entry left", "err", err)
		}
		return fallback
	}
	pos, err := decodeCheckpoint(b)
	if err != nil {
		s.lg.Error("spool checkpoint damaged; replaying every entry left", "err", err)
		return fallback
	}
	return max(pos, fallback)
}

// scan validates the entries of g after the checkpoint, counts them,
// cuts a torn tail of the last segment and marks damage elsewhere.
func (s *Spool) scan(g *segment, last bool) error {
	f, err := s.fs.Open(s.segPath(g.start))
	if err != nil {
		return err
	}
	defer f.Close()
	off := max(s.ackPos-g.start, 0)
	var hdr [headerSize]byte
	var buf []byte
	for off < g.size {
		why := ""
		n := int64(0)
		if _, err := f.ReadAt(hdr[:], off); err != nil || g.size-off < headerSize {
			why = "truncated header"
		} else if n = int64(binary.LittleEndian.Uint32(hdr[:4])); n > MaxEntry || off+headerSize+n > g.size {
			why = fmt.Sprintf("length %d runs past the segment", n)
		}
		if why == "" {
			if int64(cap(buf)) < n {
				buf = make([]byte, n)
			}
			buf = buf[:n]
			if _, err := f.ReadAt(buf, off+headerSize); err != nil {
				why = "unreadable payload"
			} else if crc32.Update(crc32.Checksum(hdr[:4], castagnoli), castagnoli, buf) != binary.LittleEndian.Uint32(hdr[4:]) {
				why = "checksum mismatch"
				if !last || off+headerSize+n < g.size {
					// A whole entry with a bad checksum in the middle:
					// skip it, keep the rest.
					s.bad[g.start+off] = true
					s.reportCorrupt(g, off, why)
					off += headerSize + n
					continue
				}
			}
		}
		if why != "" {
			return s.cutAt(g, off, last, why)
		}
		g.entries++
		s.nextSeq++
		off += headerSize + n
	}
	return nil
}

// cutAt ends g's readable entries at off: the torn tail of the last
// segment is truncated; in an older segment the rest is skipped.
func (s *Spool) cutAt(g *segment, off int64, last bool, why string) error {
	if last {
		s.lg.Warn("spool: cutting a torn tail left by a crash", "file", s.segPath(g.start), "offset", off, "bytes", g.size-off, "problem", why)
		w, err := s.fs.OpenReadWrite(s.segPath(g.start))
		if err != nil {
			return err
		}
		defer w.Close()
		if err := w.Truncate(off); err != nil {
			return err
		}
		if err := w.Sync(); err != nil {
			return err
		}
		g.size, g.limit = off, off
		return nil
	}
	s.reportCorrupt(g, off, why+"; the rest of the segment is skipped")
	g.limit = off
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
