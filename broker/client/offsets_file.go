package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
)

// offsetsFile is the content of ConsumerConfig.OffsetsFile: a broadcasting
// member's progress, the next offset to consume per queue.
//
//	{"group": "g", "topic": "t", "offsets": {"0": 120, "1": 97}}
type offsetsFile struct {
	Group   string           `json:"group"`
	Topic   string           `json:"topic"`
	Offsets map[string]int64 `json:"offsets"`
}

// readOffsetsFile returns the progress kept in path; a missing file is no
// progress. A file of another group or topic is refused rather than used.
func readOffsetsFile(path, group, topic string) (map[uint32]int64, error) {
	out := make(map[uint32]int64)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read offsets file: %w", err)
	}
	var f offsetsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("offsets file %s: %w", path, err)
	}
	if f.Group != group || f.Topic != topic {
		return nil, fmt.Errorf("offsets file %s belongs to group %q on topic %q, not %q on %q",
			path, f.Group, f.Topic, group, topic)
	}
	for k, v := range f.Offsets {
		q, err := strconv.ParseUint(k, 10, 32)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("offsets file %s: bad entry %q: %d", path, k, v)
		}
		out[uint32(q)] = v
	}
	return out, nil
}

// writeOffsetsFile replaces path atomically: a crash leaves the old file
// or the new one, never a torn one.
func writeOffsetsFile(path, group, topic string, offs map[uint32]int64) error {
	f := offsetsFile{Group: group, Topic: topic, Offsets: make(map[string]int64, len(offs))}
	for q, o := range offs {
		f.Offsets[strconv.FormatUint(uint64(q), 10)] = o
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode offsets: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write offsets file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write offsets file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync offsets file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write offsets file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace offsets file: %w", err)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync offsets directory: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync offsets directory: %w", err)
	}
	return nil
}

// commitLocal records a broadcasting member's progress.
func (cons *Consumer) commitLocal(offsets map[uint32]int64) error {
	cons.fileMu.Lock()
	defer cons.fileMu.Unlock()
	cons.mu.Lock()
	maps.Copy(cons.progress, offsets)
	snap := maps.Clone(cons.progress)
	cons.mu.Unlock()
	cons.c.m.commits.Inc()
	if cons.cfg.OffsetsFile == "" {
		return nil
	}
	if err := writeOffsetsFile(cons.cfg.OffsetsFile, cons.cfg.Group, cons.cfg.Topic, snap); err != nil {
		return fmt.Errorf("commit offsets of group %s on topic %s: %w", cons.cfg.Group, cons.cfg.Topic, err)
	}
	return nil
}
