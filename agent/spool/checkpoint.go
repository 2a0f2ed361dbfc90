package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

const (
	checkpointName = "checkpoint"
	checkpointSize = 20
)

// encodeCheckpoint is position u64 | seq u64 | crc32c u32.
func encodeCheckpoint(pos int64, seq uint64) []byte {
	b := make([]byte, 0, checkpointSize)
	b = binary.LittleEndian.AppendUint64(b, uint64(pos))
	b = binary.LittleEndian.AppendUint64(b, seq)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeCheckpoint(b []byte) (pos int64, seq uint64, err error) {
	if len(b) != checkpointSize {
		return 0, 0, fmt.Errorf("%w: checkpoint of %d bytes, want %d", ErrCorrupt, len(b), checkpointSize)
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0, fmt.Errorf("%w: checkpoint checksum mismatch", ErrCorrupt)
	}
	pos = int64(binary.LittleEndian.Uint64(b))
	if pos < 0 {
		return 0, 0, fmt.Errorf("%w: checkpoint position %d", ErrCorrupt, pos)
	}
	return pos, binary.LittleEndian.Uint64(b[8:]), nil
}

// checkpointLoop persists acknowledgements every CheckpointInterval,
// until Close.
func (s *Spool) checkpointLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.persistCheckpoint(); err != nil {
				// Nobody to return it to; the next tick tries again.
				s.lg.Error("spool: persisting the read checkpoint", "err", err)
			}
		}
	}
}

// persistCheckpoint writes the acknowledged position if it moved.
func (s *Spool) persistCheckpoint() error {
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	s.mu.Lock()
	pos, seq, dirty := s.ackPos, s.ackSeq, s.cpDirty
	s.cpDirty = false
	s.mu.Unlock()
	if !dirty {
		return nil
	}
	err := vfs.WriteFileAtomic(s.fs, filepath.Join(s.cfg.Dir, checkpointName), encodeCheckpoint(pos, seq))
	if err != nil {
		s.mu.Lock()
		s.cpDirty = true
		s.mu.Unlock()
		return fmt.Errorf("spool checkpoint at %d: %w", pos, err)
	}
	return nil
}

// Close persists the checkpoint and closes the files; calls waiting in
// Next or Append return ErrClosed. Records read but not acknowledged are
// read again after the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.dataCh)
	close(s.roomCh)
	for s.syncing {
		s.syncEnded.Wait()
	}
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	err := s.persistCheckpoint()
	s.readMu.Lock() // a Next still reading finishes first
	defer s.readMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(err, s.closeFiles())
}

func (s *Spool) closeFiles() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.Close())
		s.w = nil
	}
	if s.rf != nil {
		errs = append(errs, s.rf.Close())
		s.rf = nil
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	return errors.Join(errs...)
}
