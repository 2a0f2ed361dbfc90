package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// The checkpoint file says up to which log position the consume queues and
// the key index are durable, so recovery re-scans only the log after it:
//
//	+--------+-----+-----+----------+---------+
//	| "SLCP" | ver | 0 0 0 | position | queues N|   4+1+3+8+4 bytes
//	+--------+-----+-----+----------+---------+
//	N x +---------+-------+-------+-------------+
//	    | topic L | topic | queue | next offset |  2+L+4+8 bytes
//	    +---------+-------+-------+-------------+
//	+--------+
//	| crc32c |  over everything before it
//	+--------+
//
// The next offset of every queue lets recovery notice a consume queue that
// lost entries (deleted or damaged files) and rebuild it from the log, and
// keeps offsets from being reused after retention emptied a queue.

const (
	checkpointMagic   = "SLCP"
	checkpointVersion = 1
	checkpointFile    = "checkpoint"
	cleanFile         = "clean"
)

type checkpointData struct {
	Pos    int64
	Queues map[QueueID]int64 // next offset per queue
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeCheckpoint(cp checkpointData) []byte {
	ids := make([]QueueID, 0, len(cp.Queues))
	for id := range cp.Queues {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Topic != ids[j].Topic {
			return ids[i].Topic < ids[j].Topic
		}
		return ids[i].Queue < ids[j].Queue
	})
	b := append([]byte(checkpointMagic), checkpointVersion, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(cp.Pos))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(id.Topic)))
		b = append(b, id.Topic...)
		b = binary.LittleEndian.AppendUint32(b, id.Queue)
		b = binary.LittleEndian.AppendUint64(b, uint64(cp.Queues[id]))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadCheckpoint = errors.New("corrupt checkpoint")

func decodeCheckpoint(b []byte) (checkpointData, error) {
	cp := checkpointData{Queues: map[QueueID]int64{}}
	if len(b) < 24 || string(b[:4]) != checkpointMagic {
		return cp, fmt.Errorf("%w: bad header", errBadCheckpoint)
	}
	body := b[:len(b)-4]
	if binary.LittleEndian.Uint32(b[len(b)-4:]) != crc32.Checksum(body, castagnoli) {
		return cp, fmt.Errorf("%w: crc mismatch", errBadCheckpoint)
	}
	if b[4] != checkpointVersion {
		return cp, fmt.Errorf("%w: unknown version %d", errBadCheckpoint, b[4])
	}
	cp.Pos = int64(binary.LittleEndian.Uint64(b[8:]))
	n := binary.LittleEndian.Uint32(b[16:])
	p := 20
	for range n {
		if p+2 > len(body) {
			return cp, fmt.Errorf("%w: truncated", errBadCheckpoint)
		}
		l := int(binary.LittleEndian.Uint16(body[p:]))
		if p+2+l+12 > len(body) {
			return cp, fmt.Errorf("%w: truncated", errBadCheckpoint)
		}
		id := QueueID{Topic: string(body[p+2 : p+2+l]), Queue: binary.LittleEndian.Uint32(body[p+2+l:])}
		cp.Queues[id] = int64(binary.LittleEndian.Uint64(body[p+6+l:]))
		p += 14 + l
	}
	if p != len(body) || cp.Pos < 0 {
		return cp, fmt.Errorf("%w: trailing bytes", errBadCheckpoint)
	}
	return cp, nil
}

// readCheckpoint returns the last checkpoint; a missing one is the empty
// checkpoint of a new store.
func (s *Store) readCheckpoint() (checkpointData, error) {
	b, err := vfs.ReadFile(s.fs, filepath.Join(s.cfg.Dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return checkpointData{Queues: map[QueueID]int64{}}, nil
	}
	if err != nil {
		return checkpointData{}, fmt.Errorf("read checkpoint: %w", err)
	}
	return decodeCheckpoint(b)
}

// checkpoint makes the consume queues and key index durable up to the
// visible end of the log and records that position, so that recovery
// re-scans only what came after it.
func (s *Store) checkpoint() error {
	// One at a time: DeleteTopic checkpoints besides the maintenance loop.
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	return s.checkpointLocked()
}

// checkpointLocked is checkpoint with checkpointMu held.
func (s *Store) checkpointLocked() error {
	// The append lock keeps the queue set still, the dispatch lock keeps
	// the visible end and the queues' next offsets in agreement.
	s.mu.Lock()
	s.dispatchMu.Lock()
	cp := checkpointData{Pos: s.visibleEnd.Load(), Queues: make(map[QueueID]int64, len(s.queues))}
	qs := make([]*queue, 0, len(s.queues))
	for id, q := range s.queues {
		cp.Queues[id] = q.cq.Next()
		qs = append(qs, q)
	}
	s.dispatchMu.Unlock()
	s.mu.Unlock()
	if s.cfg.Flush == FlushAsync {
		// Async mode shows records before they are durable: make the log
		// durable up to cp.Pos before recording it.
		if end, err := s.log.Sync(); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		} else {
			s.durableEnd.Store(max(s.durableEnd.Load(), end))
		}
	}
	for _, q := range qs {
		if err := q.cq.Sync(); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	s.dispatchMu.Lock()
	err := s.keys.Checkpoint(cp.Pos)
	s.dispatchMu.Unlock()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := vfs.WriteFileAtomic(s.fs, filepath.Join(s.cfg.Dir, checkpointFile), encodeCheckpoint(cp)); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	s.m.checkpointPos.Store(cp.Pos)
	return nil
}

// markClean records a clean shutdown: the checkpoint covers the whole log.
func (s *Store) markClean() error {
	if err := vfs.WriteFileAtomic(s.fs, filepath.Join(s.cfg.Dir, cleanFile), nil); err != nil {
		return fmt.Errorf("write clean-shutdown marker: %w", err)
	}
	return nil
}
