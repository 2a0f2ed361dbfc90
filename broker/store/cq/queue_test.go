package cq

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

func fill(t *testing.T, q *Queue, n int) {
	t.Helper()
	next, pos := q.Next(), q.LastPos()+1
	for i := 0; i < n; i++ {
		e := Entry{BaseOffset: next, Pos: pos, Size: 200, Count: 10, StoredAtMs: 1000 + next}
		if err := q.Append(e); err != nil {
			t.Fatal(err)
		}
		next += 10
		pos += 200
	}
}

func TestQueueAppendFindReopen(t *testing.T) {
	dir := t.TempDir()
	q, rep, err := Open(vfs.Default, dir, 4)
	if err != nil || rep.Entries != 0 || rep.Damaged != nil {
		t.Fatalf("open empty: %+v %v", rep, err)
	}
	fill(t, q, 10) // three files of 4
	for _, tc := range []struct{ off, idx int64 }{{0, 0}, {9, 0}, {10, 1}, {55, 5}, {99, 9}} {
		idx, err := q.Find(tc.off)
		if err != nil || idx != tc.idx {
			t.Errorf("Find(%d) = %d, %v; want %d", tc.off, idx, err, tc.idx)
		}
	}
	var dst [8]Entry
	n, err := q.Entries(2, dst[:], nil)
	if err != nil || n != 2 || dst[0].BaseOffset != 20 || dst[1].BaseOffset != 30 {
		t.Fatalf("Entries(2) = %d %+v %v; want 2 entries within the file", n, dst[:n], err)
	}
	if off, _ := q.SearchTime(1000 + 35); off != 40 {
		t.Fatalf("SearchTime = %d, want 40", off)
	}
	q.Close()
	q, rep, err = Open(vfs.Default, dir, 4)
	if err != nil || rep.Entries != 10 || rep.Damaged != nil {
		t.Fatalf("reopen: %+v %v", rep, err)
	}
	defer q.Close()
	if lo, hi := q.Range(); lo != 0 || hi != 100 {
		t.Fatalf("range %d..%d", lo, hi)
	}
	if err := q.TruncateFromPos(5 * 200); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 5 || q.Next() != 50 {
		t.Fatalf("after truncation %d entries, next %d", q.Len(), q.Next())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.cq"))
	if len(files) != 2 {
		t.Fatalf("%d files after truncation, want 2", len(files))
	}
	if err := q.DropBefore(3 * 200); err != nil {
		t.Fatal(err)
	}
	if lo, hi := q.Range(); lo != 30 || hi != 50 {
		t.Fatalf("range after DropBefore %d..%d, want 30..50", lo, hi)
	}
	if idx, err := q.Find(0); err != nil || idx != 3 {
		t.Fatalf("Find(0) after DropBefore = %d, %v; want entry 3", idx, err)
	}
	if err := q.DropBefore(5 * 200); err != nil {
		t.Fatal(err)
	}
	if lo, hi := q.Range(); lo != 50 || hi != 50 {
		t.Fatalf("range after dropping all %d..%d, want 50..50", lo, hi)
	}
	files, _ = filepath.Glob(filepath.Join(dir, "*.cq"))
	if len(files) != 1 {
		t.Fatalf("%d files after dropping all entries, want the last one kept", len(files))
	}
	if _, err := q.Find(200); !errors.Is(err, ErrNoEntry) {
		t.Fatalf("Find past end: %v", err)
	}
}

func TestQueueTornAndDamaged(t *testing.T) {
	dir := t.TempDir()
	q, _, _ := Open(vfs.Default, dir, 100)
	fill(t, q, 10)
	q.Close()
	path := filepath.Join(dir, "00000000000000000000.cq")
	// A torn last entry is cut quietly.
	os.Truncate(path, 10*EntrySize-7)
	q, rep, err := Open(vfs.Default, dir, 100)
	if err != nil || rep.Damaged != nil || rep.Entries != 9 {
		t.Fatalf("torn tail: %+v %v", rep, err)
	}
	q.Close()
	// Damage before the end is reported.
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte{1, 2, 3}, 3*EntrySize+5)
	f.Close()
	q, rep, err = Open(vfs.Default, dir, 100)
	if err != nil || rep.Damaged == nil || rep.Entries != 3 {
		t.Fatalf("damage: %+v %v", rep, err)
	}
	q.Close()
}

func TestQueueRejectsOutOfOrder(t *testing.T) {
	q, _, _ := Open(vfs.Default, t.TempDir(), 0)
	defer q.Close()
	fill(t, q, 2)
	if err := q.Append(Entry{BaseOffset: 5, Pos: 1000, Size: 200, Count: 1}); err == nil {
		t.Fatal("entry going back in offsets accepted")
	}
}
