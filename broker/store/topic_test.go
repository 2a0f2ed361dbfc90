package store

import (
	"errors"
	"testing"
)

func TestDeleteTopic(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testConfig(dir))
	for i := range uint64(6) {
		mustAppend(t, s, testBatch("gone", uint32(i%2), i, 3, 100))
		mustAppend(t, s, testBatch("kept", 0, 100+i, 3, 100))
	}
	if err := s.DeleteTopic("gone"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.Read("gone", 0, 0, ReadOptions{}); !errors.Is(err, ErrUnknownQueue) {
		t.Fatalf("read of a deleted topic: %v, want ErrUnknownQueue", err)
	}
	if err := s.DeleteTopic("gone"); !errors.Is(err, ErrUnknownQueue) {
		t.Fatalf("second delete: %v, want ErrUnknownQueue", err)
	}
	// Created again, the topic starts from offset 0.
	if res := mustAppend(t, s, testBatch("gone", 0, 50, 3, 100)); res.BaseOffset != 0 {
		t.Fatalf("recreated topic starts at %d, want 0", res.BaseOffset)
	}
	// Crash and recover: the old queues must not come back from the log.
	s.crash()
	s = mustOpen(t, testConfig(dir))
	defer s.Close()
	ids, _ := readAll(t, s, "gone", 0)
	if len(ids) != 1 || ids[0] != 50 {
		t.Fatalf("after recovery the recreated topic holds %v, want [50]", ids)
	}
	if _, _, err := s.QueueRange("gone", 1); !errors.Is(err, ErrUnknownQueue) {
		t.Fatalf("deleted queue gone/1 came back: %v", err)
	}
	if ids, _ := readAll(t, s, "kept", 0); len(ids) != 6 {
		t.Fatalf("other topic holds %d batches, want 6", len(ids))
	}
}

func TestReadRecordAndStoredAt(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	a := mustAppend(t, s, testBatch("t", 2, 1, 4, 300))
	b := mustAppend(t, s, testBatch("t", 2, 2, 4, 300))
	rec, _, err := s.ReadRecord(b.Pos, nil)
	if err != nil {
		t.Fatalf("read record: %v", err)
	}
	if id, err := idOf(rec.Payload); err != nil || id != 2 || rec.Queue != 2 || rec.BaseOffset != 4 {
		t.Fatalf("record at %d: id %d (%v), queue %d, base %d", b.Pos, id, err, rec.Queue, rec.BaseOffset)
	}
	if _, _, err := s.ReadRecord(a.Pos+1, nil); err == nil {
		t.Fatal("read at a position inside a record succeeded")
	}
	if _, _, err := s.ReadRecord(1<<40, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read past the end: %v, want ErrNotFound", err)
	}
	ms, err := s.StoredAtMs("t", 2, 6)
	if err != nil || ms != b.StoredAtMs {
		t.Fatalf("stored at of offset 6: %d, %v; want %d", ms, err, b.StoredAtMs)
	}
	if _, err := s.StoredAtMs("t", 2, 8); err == nil {
		t.Fatal("stored at of an offset not written yet succeeded")
	}
}
