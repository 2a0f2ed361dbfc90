package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzOpenSegment writes arbitrary bytes as a spool segment and reads
// everything back: Open and Next must never panic or allocate beyond the
// file, and must end.
func FuzzOpenSegment(f *testing.F) {
	dir := f.TempDir()
	s, _ := Open(Config{Dir: dir, Logger: quiet})
	for i := range 3 {
		s.Append(context.Background(), entry(i))
	}
	s.Close()
	seg, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	good, _ := os.ReadFile(seg[0])
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000000.seg"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Config{Dir: dir, Logger: quiet})
		if err != nil {
			return
		}
		defer s.Close()
		n := s.Len()
		for range n + 1 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			_, _, err := s.Next(ctx)
			cancel()
			if err != nil {
				break
			}
		}
	})
}

func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(encodeCheckpoint(0, 0))
	f.Add(encodeCheckpoint(1<<40, 7))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		pos, seq, err := decodeCheckpoint(b)
		if err != nil {
			return
		}
		if pos < 0 {
			t.Fatalf("negative position %d accepted", pos)
		}
		if !bytes.Equal(encodeCheckpoint(pos, seq), b) {
			t.Fatalf("checkpoint %x does not re-encode to itself", b)
		}
	})
}

// FuzzDecodeRecord feeds arbitrary bytes to the record decoder: it must
// never panic nor allocate, and what it accepts must re-encode to the
// same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, []byte("hello"), 1))
	f.Add(appendRecord(nil, nil, 0))
	f.Add(appendRecord(appendRecord(nil, []byte("a"), 2), []byte("b"), 3))
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, at, size, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if size > len(b) || size != headerSize+len(payload) {
			t.Fatalf("size %d for %d bytes, payload %d", size, len(b), len(payload))
		}
		if !bytes.Equal(appendRecord(nil, payload, at), b[:size]) {
			t.Fatalf("record %x does not re-encode to itself", b[:size])
		}
	})
}
