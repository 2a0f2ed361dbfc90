package store

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sluicehq/sluice/broker/store/record"
)

// DeleteTopic removes the consume queues of topic, so none of its messages
// can be read any more. As in RocketMQ, the records themselves stay in the
// commit log until retention removes their segments. Appends to the topic
// after DeleteTopic start new queues at offset 0.
//
// A checkpoint is written at once so that recovery does not bring the
// queues back by replaying the log; a crash during DeleteTopic may.
func (s *Store) DeleteTopic(topic string) error {
	if err := ValidTopic(topic); err != nil {
		return err
	}
	// No checkpoint may be syncing the files about to be closed.
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	var qs []*queue
	for id, q := range s.queues {
		if id.Topic == topic {
			qs = append(qs, q)
			delete(s.queues, id)
		}
	}
	// Pending entries of these queues must not reach their closed files.
	s.dispatchMu.Lock()
	for _, q := range qs {
		q.deleted = true
	}
	s.dispatchMu.Unlock()
	// Files go while the append lock is held, so that an append creating
	// the topic again cannot have its new files removed.
	var errs []error
	for _, q := range qs {
		if err := q.cq.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := s.removeDir(q.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(qs) > 0 {
		if err := s.removeDir(filepath.Join(s.cfg.Dir, "cq", topic)); err != nil {
			errs = append(errs, err)
		}
	}
	s.mu.Unlock()
	if len(qs) == 0 {
		return fmt.Errorf("delete topic %s: %w", topic, ErrUnknownQueue)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	if err := s.checkpointLocked(); err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	return nil
}

// removeDir removes the files of dir and then dir itself.
func (s *Store) removeDir(dir string) error {
	names, err := s.fs.List(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, n := range names {
		if err := s.fs.Remove(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return s.fs.Remove(dir)
}

// ReadRecord reads and checks the record at pos: a position from Appended,
// a KeyHit or a message id. buf is reused when large enough; the payload
// of the result points into the returned buffer.
func (s *Store) ReadRecord(pos int64, buf []byte) (StoredBatch, []byte, error) {
	if pos < 0 || pos >= s.visibleEnd.Load() {
		return StoredBatch{}, buf, fmt.Errorf("record at %d: %w", pos, ErrNotFound)
	}
	var hdr [12]byte
	if _, err := s.log.ReadAt(hdr[:], pos); err != nil {
		return StoredBatch{}, buf, fmt.Errorf("record at %d: %w: %w", pos, ErrNotFound, err)
	}
	n, err := record.PeekLength(hdr[:])
	if err != nil {
		return StoredBatch{}, buf, fmt.Errorf("record at %d: %w: %w", pos, ErrNotFound, err)
	}
	buf = grow(buf, n)
	path, err := s.log.ReadAt(buf, pos)
	if err != nil {
		return StoredBatch{}, buf, fmt.Errorf("record at %d: %w: %w", pos, ErrNotFound, err)
	}
	h, payload, err := record.Decode(buf, nil)
	if err != nil {
		_, off := s.log.Locate(pos)
		ce := &CorruptError{File: path, Offset: off, Pos: pos, Err: err}
		s.reportCorrupt(ce)
		return StoredBatch{}, buf, ce
	}
	return StoredBatch{Header: h, Pos: pos, Payload: payload}, buf, nil
}

// StoredAtMs returns when the batch holding offset was stored (Unix ms).
func (s *Store) StoredAtMs(topic string, queue uint32, offset int64) (int64, error) {
	q, err := s.queue(QueueID{topic, queue})
	if err != nil {
		return 0, err
	}
	idx, err := q.cq.Find(offset)
	if err != nil {
		return 0, fmt.Errorf("%s offset %d: %w", q.id, offset, err)
	}
	e, err := q.cq.Entry(idx)
	if err != nil {
		return 0, fmt.Errorf("%s offset %d: %w", q.id, offset, err)
	}
	return e.StoredAtMs, nil
}
