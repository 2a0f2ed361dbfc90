package commitlog

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

var errInjected = errors.New("injected fault")

// testSegmentSize is small so that tests roll segments after a few records.
const testSegmentSize = 4096

// byteAt is the byte every test stores at position pos, so the log is one
// deterministic byte stream and a read or a write at the wrong place, or a
// partial record left behind, is noticed whatever the record boundaries.
func byteAt(pos int64) byte { return byte(uint64(pos) * 0x9E3779B97F4A7C15 >> 56) }

// content returns the n bytes the log holds at pos.
func content(pos int64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byteAt(pos + int64(i))
	}
	return b
}

// garbage returns n bytes that differ from content(pos, n) at every index,
// for writes that are meant to fail and be cut off again.
func garbage(pos int64, n int) []byte {
	b := content(pos, n)
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

// split cuts b into parts of the given sizes.
func split(b []byte, sizes []int) [][]byte {
	parts := make([][]byte, len(sizes))
	for i, n := range sizes {
		parts[i], b = b[:n], b[n:]
	}
	return parts
}

func sum(sizes []int) int {
	n := 0
	for _, s := range sizes {
		n += s
	}
	return n
}

func openLog(t testing.TB, cfg Config) *Log {
	t.Helper()
	l, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendRecords appends records of the given sizes, each with its content,
// and checks that every one lands at the previous End.
func appendRecords(t testing.TB, l *Log, sizes ...int) []int64 {
	t.Helper()
	var out []int64
	for _, n := range sizes {
		want := l.End()
		pos, err := l.Append(content(want, n))
		if err != nil {
			t.Fatalf("Append(%d bytes) at %d: %v", n, want, err)
		}
		if pos != want {
			t.Fatalf("Append(%d bytes) = %d, want %d", n, pos, want)
		}
		if got := l.End(); got != pos+int64(n) {
			t.Fatalf("End after Append(%d bytes) at %d = %d, want %d", n, pos, got, pos+int64(n))
		}
		out = append(out, pos)
	}
	return out
}

func checkRead(t testing.TB, l *Log, pos int64, n int) {
	t.Helper()
	p := make([]byte, n)
	if _, err := l.ReadAt(p, pos); err != nil {
		t.Fatalf("ReadAt(%d bytes, %d): %v", n, pos, err)
	}
	if want := content(pos, n); !bytes.Equal(p, want) {
		t.Fatalf("ReadAt(%d bytes, %d) read other bytes than were appended", n, pos)
	}
}

// checkDisk checks that every segment file holds exactly the bytes Segments
// says it does, with the content the tests append.
func checkDisk(t testing.TB, l *Log) {
	t.Helper()
	for _, s := range l.Segments() {
		data, err := os.ReadFile(s.Path)
		if err != nil {
			t.Fatalf("read segment file: %v", err)
		}
		if int64(len(data)) != s.Size {
			t.Fatalf("segment %s holds %d bytes on disk, Segments says %d", s.Path, len(data), s.Size)
		}
		if i := firstMismatch(data, s.Start); i >= 0 {
			t.Fatalf("segment %s: byte %d (position %d) is %#x, want %#x", s.Path, i, s.Start+int64(i), data[i], byteAt(s.Start+int64(i)))
		}
	}
}

func firstMismatch(data []byte, start int64) int {
	for i, b := range data {
		if b != byteAt(start+int64(i)) {
			return i
		}
	}
	return -1
}

// checkContiguous checks that every segment starts where the previous one
// ends and the last one ends at End.
func checkContiguous(t testing.TB, l *Log) {
	t.Helper()
	segs := l.Segments()
	for i := 1; i < len(segs); i++ {
		if segs[i-1].End() != segs[i].Start {
			t.Fatalf("segment %d ends at %d, segment %d starts at %d", i-1, segs[i-1].End(), i, segs[i].Start)
		}
	}
	if last := segs[len(segs)-1]; last.End() != l.End() {
		t.Fatalf("last segment ends at %d, End = %d", last.End(), l.End())
	}
}

func segmentStarts(l *Log) []int64 {
	var out []int64
	for _, s := range l.Segments() {
		out = append(out, s.Start)
	}
	return out
}

// segmentFiles lists the segment files in dir, by start position.
func segmentFiles(t testing.TB, dir string) []int64 {
	t.Helper()
	names, err := vfs.Default.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, name := range names {
		if start, ok := parseSegmentName(name); ok {
			out = append(out, start)
		}
	}
	return out
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestSegmentName(t *testing.T) {
	tests := []struct {
		name  string
		start int64
		ok    bool
	}{
		{"00000000000000000000.seg", 0, true},
		{"00000000001073741000.seg", 1073741000, true},
		{"09223372036854775807.seg", 1<<63 - 1, true},
		{"0.seg", 0, false},
		{"0000000000000000000a.seg", 0, false},
		{"00000000000000000000.seg.tmp", 0, false},
		{"00000000000000000000.idx", 0, false},
		{"-0000000000000000001.seg", 0, false},
		{"99999999999999999999.seg", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, ok := parseSegmentName(tt.name)
			if ok != tt.ok || (ok && start != tt.start) {
				t.Fatalf("parseSegmentName = %d, %v; want %d, %v", start, ok, tt.start, tt.ok)
			}
			if ok && SegmentName(start) != tt.name {
				t.Fatalf("SegmentName(%d) = %q, want %q", start, SegmentName(start), tt.name)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"zero segment size", Config{Dir: "d"}, ""},
		{"no directory", Config{}, "commit log directory is empty"},
		{"negative segment size", Config{Dir: "d", SegmentSize: -1}, "segment size -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if got := errString(err); got != tt.wantErr {
				t.Fatalf("Validate() = %q, want %q", got, tt.wantErr)
			}
			if tt.wantErr != "" {
				if _, err := Open(tt.cfg); errString(err) != tt.wantErr {
					t.Fatalf("Open() = %v, want %q", err, tt.wantErr)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestAppendReadAt(t *testing.T) {
	tests := []struct {
		name    string
		records [][]int // part sizes of each record
	}{
		{"one byte", [][]int{{1}}},
		{"several", [][]int{{10}, {1}, {300}, {7}}},
		{"empty record", [][]int{{5}, {0}, {5}}},
		{"parts", [][]int{{3, 100}, {1, 1, 1}, {50}, {0, 20, 0}}},
		{"no parts", [][]int{{8}, {}, {8}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, Config{Dir: t.TempDir()})
			if l.Start() != 0 || l.End() != 0 {
				t.Fatalf("new log: Start, End = %d, %d; want 0, 0", l.Start(), l.End())
			}
			var positions []int64
			for _, parts := range tt.records {
				want := l.End()
				n := sum(parts)
				pos, err := l.Append(split(content(want, n), parts)...)
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				if pos != want {
					t.Fatalf("Append = %d, want %d (the previous End)", pos, want)
				}
				if l.End() != pos+int64(n) {
					t.Fatalf("End = %d, want %d", l.End(), pos+int64(n))
				}
				positions = append(positions, pos)
			}
			for i, parts := range tt.records {
				checkRead(t, l, positions[i], sum(parts))
			}
			checkRead(t, l, 0, int(l.End())) // the whole log at once
			if l.Start() != 0 {
				t.Fatalf("Start = %d, want 0", l.Start())
			}
			checkDisk(t, l)
		})
	}
}

func TestSegmentRolling(t *testing.T) {
	tests := []struct {
		name       string
		sizes      []int
		wantStarts []int64
	}{
		{"records that fit share a segment", []int{1000, 1000, 1000, 1096}, []int64{0}},
		{"a record that does not fit starts a segment", []int{3000, 2000, 2000}, []int64{0, 3000}},
		{"a full segment is sealed", []int{4096, 1}, []int64{0, 4096}},
		{"a large record gets its own segment", []int{100, 10000, 100}, []int64{0, 100, 10100}},
		{"a large first record", []int{10000, 10}, []int64{0, 10000}},
		{"large records in a row", []int{5000, 5000, 1}, []int64{0, 5000, 10000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, Config{Dir: dir, SegmentSize: testSegmentSize})
			positions := appendRecords(t, l, tt.sizes...)
			if got := segmentStarts(l); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segments start at %v, want %v", got, tt.wantStarts)
			}
			if got := segmentFiles(t, dir); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segment files start at %v, want %v", got, tt.wantStarts)
			}
			for _, s := range l.Segments() {
				if want := filepath.Join(dir, SegmentName(s.Start)); s.Path != want {
					t.Fatalf("segment path = %s, want %s", s.Path, want)
				}
			}
			checkContiguous(t, l)
			checkDisk(t, l)
			for i, pos := range positions {
				checkRead(t, l, pos, tt.sizes[i])
				path, off := l.Locate(pos)
				seg := l.Segments()[segmentIndex(tt.wantStarts, pos)]
				if path != seg.Path || off != pos-seg.Start {
					t.Fatalf("Locate(%d) = %s, %d; want %s, %d", pos, path, off, seg.Path, pos-seg.Start)
				}
			}
		})
	}
}

// segmentIndex returns the index of the segment holding pos.
func segmentIndex(starts []int64, pos int64) int {
	i, found := slices.BinarySearch(starts, pos)
	if !found {
		i--
	}
	return i
}

func TestReadAtErrors(t *testing.T) {
	// Segments [0, 3000) and [3000, 5000).
	sizes := []int{3000, 2000}
	tests := []struct {
		name         string
		deleteOldest bool
		pos          int64
		n            int
		wantErr      error
		wantSegment  int64 // start of the segment ReadAt names
	}{
		{"first segment", false, 0, 3000, nil, 0},
		{"second segment", false, 3000, 2000, nil, 3000},
		{"inside a record", false, 10, 20, nil, 0},
		{"nothing at end", false, 5000, 0, nil, 3000},
		{"across a segment boundary", false, 2000, 2000, io.ErrUnexpectedEOF, 0},
		{"past the segment's end", false, 2999, 2, io.ErrUnexpectedEOF, 0},
		{"past End", false, 4000, 2000, io.ErrUnexpectedEOF, 3000},
		{"at End", false, 5000, 1, io.ErrUnexpectedEOF, 3000},
		{"far past End", false, 1 << 40, 1, io.ErrUnexpectedEOF, 3000},
		{"negative", false, -1, 1, ErrOutOfRange, -1},
		{"deleted segment", true, 0, 100, ErrOutOfRange, -1},
		{"end of deleted segment", true, 2999, 1, ErrOutOfRange, -1},
		{"after deletion", true, 3000, 2000, nil, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, Config{Dir: dir, SegmentSize: testSegmentSize})
			appendRecords(t, l, sizes...)
			if tt.deleteOldest {
				if err := l.DeleteOldest(); err != nil {
					t.Fatalf("DeleteOldest: %v", err)
				}
				if l.Start() != 3000 {
					t.Fatalf("Start after DeleteOldest = %d, want 3000", l.Start())
				}
			}
			p := make([]byte, tt.n)
			path, err := l.ReadAt(p, tt.pos)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("ReadAt(%d bytes, %d) = %v, want %v", tt.n, tt.pos, err, tt.wantErr)
			}
			wantPath := ""
			if tt.wantSegment >= 0 {
				wantPath = filepath.Join(dir, SegmentName(tt.wantSegment))
			}
			if path != wantPath {
				t.Fatalf("ReadAt named segment %q, want %q", path, wantPath)
			}
			if err == nil && !bytes.Equal(p, content(tt.pos, tt.n)) {
				t.Fatalf("ReadAt(%d bytes, %d) read other bytes than were appended", tt.n, tt.pos)
			}
		})
	}
}

func TestReopen(t *testing.T) {
	tests := []struct {
		name         string
		sizes        []int
		deleteOldest int
	}{
		{"empty log", nil, 0},
		{"one segment", []int{100, 200}, 0},
		{"several segments", []int{3000, 3000, 10000, 5}, 0},
		{"empty last segment", []int{3000, 2000}, 0},
		{"after retention", []int{3000, 3000, 3000, 3000}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, SegmentSize: testSegmentSize}
			l, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			positions := appendRecords(t, l, tt.sizes...)
			for range tt.deleteOldest {
				if err := l.DeleteOldest(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			start, end, segs := l.Start(), l.End(), l.Segments()
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// Files that are not segments are left alone.
			for _, name := range []string{"notes.txt", SegmentName(0) + ".tmp"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			l = openLog(t, cfg)
			if l.Start() != start || l.End() != end {
				t.Fatalf("reopened: Start, End = %d, %d; want %d, %d", l.Start(), l.End(), start, end)
			}
			got := l.Segments()
			if len(got) != len(segs) {
				t.Fatalf("reopened with %d segments, want %d", len(got), len(segs))
			}
			for i := range segs {
				if got[i].Start != segs[i].Start || got[i].Size != segs[i].Size || got[i].Path != segs[i].Path {
					t.Fatalf("reopened segment %d = %+v, want %+v", i, got[i], segs[i])
				}
			}
			for i, pos := range positions {
				if pos >= start {
					checkRead(t, l, pos, tt.sizes[i])
				}
			}
			appendRecords(t, l, 100)
			checkContiguous(t, l)
			checkDisk(t, l)
		})
	}
}

func TestAppendWriteFailure(t *testing.T) {
	failWrites := func(ffs *vfs.FaultFS) {
		ffs.Inject(func(op vfs.Op, _ string) error {
			if op == vfs.OpWrite {
				return errInjected
			}
			return nil
		})
	}
	failSecondWrite := func(ffs *vfs.FaultFS) {
		var writes atomic.Int32
		ffs.Inject(func(op vfs.Op, _ string) error {
			if op == vfs.OpWrite && writes.Add(1) == 2 {
				return errInjected
			}
			return nil
		})
	}
	diskFull := func(ffs *vfs.FaultFS) { ffs.SetNoSpace(true) }
	tests := []struct {
		name    string
		prefill []int
		parts   []int // of the record whose write fails
		fault   func(*vfs.FaultFS)
		wantErr error
	}{
		{"write fails half-way", []int{1000}, []int{500}, failWrites, errInjected},
		{"disk full", []int{1000}, []int{500}, diskFull, syscall.ENOSPC},
		{"first record", nil, []int{500}, failWrites, errInjected},
		{"second part fails", []int{1000}, []int{100, 400}, failSecondWrite, errInjected},
		{"record that starts a segment", []int{3000}, []int{2000}, failWrites, errInjected},
		{"disk full on a new segment", []int{3000}, []int{2000}, diskFull, syscall.ENOSPC},
		{"large record", []int{100}, []int{10000}, failWrites, errInjected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := vfs.NewFaultFS(vfs.Default)
			l := openLog(t, Config{FS: ffs, Dir: dir, SegmentSize: testSegmentSize})
			appendRecords(t, l, tt.prefill...)
			end := l.End()
			sizes := map[int64]int64{}
			for _, s := range l.Segments() {
				sizes[s.Start] = fileSize(t, s.Path)
			}

			tt.fault(ffs)
			n := sum(tt.parts)
			_, err := l.Append(split(garbage(end, n), tt.parts)...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Append = %v, want an error wrapping %v", err, tt.wantErr)
			}
			if l.End() != end {
				t.Fatalf("End after a failed Append = %d, want %d", l.End(), end)
			}
			for _, s := range l.Segments() {
				// A segment created for the failed record stays empty.
				if got := fileSize(t, s.Path); got != sizes[s.Start] || got != s.Size {
					t.Fatalf("segment %s after a failed Append: %d bytes on disk, Segments says %d, want %d",
						s.Path, got, s.Size, sizes[s.Start])
				}
			}
			buf := make([]byte, 1)
			if _, err := l.ReadAt(buf, end); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadAt(End) after a failed Append = %v, want io.ErrUnexpectedEOF", err)
			}

			ffs.Inject(nil)
			ffs.SetNoSpace(false)
			appendRecords(t, l, n, 10)
			checkRead(t, l, end, n)
			checkContiguous(t, l)
			checkDisk(t, l)
		})
	}
}

func TestAppendWriteAndCutFailure(t *testing.T) {
	tests := []struct {
		name    string
		prefill []int
		parts   []int // of the record whose write and cut fail
		next    int   // size of the record appended once the faults are gone
	}{
		{"same segment", []int{1000}, []int{500}, 300},
		{"first record", nil, []int{500}, 300},
		{"parts", []int{1000}, []int{100, 400}, 300},
		{"failed record started a segment", []int{3000}, []int{2000}, 100},
		{"next record starts a segment", []int{3000}, []int{500}, 2000},
		{"next record is large", []int{3000}, []int{500}, 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := vfs.NewFaultFS(vfs.Default)
			cfg := Config{FS: ffs, Dir: dir, SegmentSize: testSegmentSize}
			l := openLog(t, cfg)
			appendRecords(t, l, tt.prefill...)
			end := l.End()

			ffs.Inject(func(op vfs.Op, _ string) error {
				if op == vfs.OpWrite || op == vfs.OpTruncate {
					return errInjected
				}
				return nil
			})
			n := sum(tt.parts)
			_, err := l.Append(split(garbage(end, n), tt.parts)...)
			if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "cut partial write") {
				t.Fatalf("Append = %v, want an error wrapping %v that says the cut failed", err, errInjected)
			}
			if l.End() != end {
				t.Fatalf("End after a failed Append = %d, want %d", l.End(), end)
			}
			segs := l.Segments()
			active := segs[len(segs)-1]
			if got, want := fileSize(t, active.Path), end-active.Start+int64(tt.parts[0]/2); got != want {
				t.Fatalf("segment %s holds %d bytes on disk, want %d: the partial write should still be there", active.Path, got, want)
			}

			ffs.Inject(nil)
			appendRecords(t, l, tt.next)
			checkRead(t, l, end, tt.next)
			checkContiguous(t, l)
			checkDisk(t, l)

			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, cfg)
			if l.End() != end+int64(tt.next) {
				t.Fatalf("reopened: End = %d, want %d", l.End(), end+int64(tt.next))
			}
			checkContiguous(t, l)
			checkDisk(t, l)
		})
	}
}

// recordOps returns an injector that lets everything through and records the
// syncs, as segment names or "dir".
func recordOps(mu *sync.Mutex, ops *[]string) vfs.Injector {
	return func(op vfs.Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		switch op {
		case vfs.OpSync:
			*ops = append(*ops, filepath.Base(name))
		case vfs.OpSyncDir:
			*ops = append(*ops, "dir")
		}
		return nil
	}
}

func TestSync(t *testing.T) {
	seg := SegmentName
	tests := []struct {
		name    string
		sizes   []int // appended after a first Sync
		wantOps []string
	}{
		{"nothing appended", nil, []string{seg(0)}},
		{"one segment", []int{100, 100}, []string{seg(0)}},
		{"rolled once", []int{3000, 2000}, []string{seg(0), seg(3000), "dir"}},
		{"rolled twice", []int{3000, 2000, 3000}, []string{seg(0), seg(3000), seg(5000), "dir"}},
		{"large record", []int{100, 10000}, []string{seg(0), seg(100), "dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ffs := vfs.NewFaultFS(vfs.Default)
			l := openLog(t, Config{FS: ffs, Dir: t.TempDir(), SegmentSize: testSegmentSize})
			var mu sync.Mutex
			var ops []string
			ffs.Inject(recordOps(&mu, &ops))
			// The new log's first segment is created: Sync makes its
			// directory entry durable.
			if end, err := l.Sync(); err != nil || end != 0 {
				t.Fatalf("first Sync = %d, %v; want 0, nil", end, err)
			}
			if want := []string{seg(0), "dir"}; !slices.Equal(ops, want) {
				t.Fatalf("first Sync synced %v, want %v", ops, want)
			}

			appendRecords(t, l, tt.sizes...)
			ops = nil
			before := l.End()
			end, err := l.Sync()
			if err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if end < before {
				t.Fatalf("Sync = %d, want at least %d (End before the call)", end, before)
			}
			if !slices.Equal(ops, tt.wantOps) {
				t.Fatalf("Sync synced %v, want %v", ops, tt.wantOps)
			}

			// Nothing new: only the active segment is synced again.
			ops = nil
			if end2, err := l.Sync(); err != nil || end2 != end {
				t.Fatalf("second Sync = %d, %v; want %d, nil", end2, err, end)
			}
			if want := []string{filepath.Base(l.Segments()[len(l.Segments())-1].Path)}; !slices.Equal(ops, want) {
				t.Fatalf("second Sync synced %v, want %v", ops, want)
			}
		})
	}
}

func TestSyncFailure(t *testing.T) {
	failSync := func(start int64) func(vfs.Op, string) bool {
		return func(op vfs.Op, name string) bool {
			return op == vfs.OpSync && filepath.Base(name) == SegmentName(start)
		}
	}
	failSyncDir := func(op vfs.Op, _ string) bool { return op == vfs.OpSyncDir }
	tests := []struct {
		name      string
		sizes     []int
		fail      func(vfs.Op, string) bool
		wantInErr string // besides the injected error
		wantRetry string // synced again by the next Sync; "" checks nothing
	}{
		{"active segment", []int{100}, failSync(0), SegmentName(0), SegmentName(0)},
		{"sealed segment", []int{3000, 2000}, failSync(0), SegmentName(0), ""},
		{"active segment after rolling", []int{3000, 2000}, failSync(3000), SegmentName(3000), SegmentName(3000)},
		{"directory after rolling", []int{3000, 2000}, failSyncDir, "sync commit log directory", "dir"},
		{"directory after a large record", []int{100, 10000}, failSyncDir, "sync commit log directory", "dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ffs := vfs.NewFaultFS(vfs.Default)
			l := openLog(t, Config{FS: ffs, Dir: t.TempDir(), SegmentSize: testSegmentSize})
			if _, err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			appendRecords(t, l, tt.sizes...)
			ffs.Inject(func(op vfs.Op, name string) error {
				if tt.fail(op, name) {
					return errInjected
				}
				return nil
			})
			_, err := l.Sync()
			if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Sync = %v, want an error wrapping %v that contains %q", err, errInjected, tt.wantInErr)
			}

			var mu sync.Mutex
			var ops []string
			ffs.Inject(recordOps(&mu, &ops))
			end, err := l.Sync()
			if err != nil || end != l.End() {
				t.Fatalf("Sync after the fault = %d, %v; want %d, nil", end, err, l.End())
			}
			if tt.wantRetry != "" && !slices.Contains(ops, tt.wantRetry) {
				t.Fatalf("Sync after the fault synced %v, want %s among them", ops, tt.wantRetry)
			}
		})
	}
}

// noSyncFS is the operating system's file system with fsync turned into a
// no-op, so that a Sync loop runs fast enough to race with rolling.
type noSyncFS struct{ vfs.FS }

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error { return nil }

func (fs noSyncFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

func (noSyncFS) SyncDir(string) error { return nil }

// TestSyncWhileRolling checks that a Sync racing with an Append that seals a
// segment still syncs every segment holding bytes below what it returns. It
// counts, per segment, the writes begun before its latest fsync began: every
// record below the returned position must be among them.
func TestSyncWhileRolling(t *testing.T) {
	const recSize, perSegment, records = 100, 2, 20000
	dir := t.TempDir()
	ffs := vfs.NewFaultFS(noSyncFS{vfs.Default})
	var mu sync.Mutex
	writes := map[string]int{} // writes begun, by segment path
	synced := map[string]int{} // writes[path] when the latest fsync of path began
	ffs.Inject(func(op vfs.Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		switch op {
		case vfs.OpWrite:
			writes[name]++
		case vfs.OpSync:
			synced[name] = writes[name]
		}
		return nil
	})
	l := openLog(t, Config{FS: ffs, Dir: dir, SegmentSize: recSize * perSegment})

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		rec := make([]byte, recSize)
		for range records {
			if _, err := l.Append(rec); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			end, err := l.Sync()
			if err != nil {
				t.Errorf("Sync: %v", err)
				return
			}
			if end == 0 {
				continue
			}
			// The last record below end, the k-th of its segment.
			last := end - recSize
			start := last - last%(recSize*perSegment)
			k := int((last-start)/recSize) + 1
			path := filepath.Join(dir, SegmentName(start))
			mu.Lock()
			got := synced[path]
			mu.Unlock()
			if got < k {
				t.Errorf("Sync returned %d, but segment %s was last synced after %d writes, not the %d below %d",
					end, SegmentName(start), got, k, end)
				return
			}
		}
	})
	wg.Wait()
}

func TestTruncate(t *testing.T) {
	// Segments [0, 3000), [3000, 5000), [5000, 9000).
	sizes := []int{3000, 2000, 3000, 1000}
	tests := []struct {
		name       string
		pos        int64
		wantStarts []int64
		wantEnd    int64
	}{
		{"inside the last segment", 6000, []int64{0, 3000, 5000}, 6000},
		{"at End", 9000, []int64{0, 3000, 5000}, 9000},
		{"past End", 10000, []int64{0, 3000, 5000}, 9000},
		{"at the start of the last segment", 5000, []int64{0, 3000, 5000}, 5000},
		{"inside a middle segment", 4000, []int64{0, 3000}, 4000},
		{"inside the first segment", 1000, []int64{0}, 1000},
		{"at zero", 0, []int64{0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, SegmentSize: testSegmentSize}
			l := openLog(t, cfg)
			appendRecords(t, l, sizes...)
			if err := l.Truncate(tt.pos); err != nil {
				t.Fatalf("Truncate(%d): %v", tt.pos, err)
			}
			if l.End() != tt.wantEnd {
				t.Fatalf("End = %d, want %d", l.End(), tt.wantEnd)
			}
			if got := segmentStarts(l); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segments start at %v, want %v", got, tt.wantStarts)
			}
			if got := segmentFiles(t, dir); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segment files start at %v, want %v", got, tt.wantStarts)
			}
			checkContiguous(t, l)
			checkDisk(t, l)
			if _, err := l.ReadAt(make([]byte, 1), tt.wantEnd); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadAt(End) = %v, want io.ErrUnexpectedEOF", err)
			}
			if tt.wantEnd > 0 {
				checkRead(t, l, tt.wantEnd-1, 1)
			}
			appendRecords(t, l, 100, 3000)
			checkContiguous(t, l)
			checkDisk(t, l)

			end := l.End()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, cfg)
			if l.End() != end {
				t.Fatalf("reopened: End = %d, want %d", l.End(), end)
			}
		})
	}
}

func TestTruncateSegment(t *testing.T) {
	// Segments [0, 3000), [3000, 5000), [5000, 9000).
	sizes := []int{3000, 2000, 3000, 1000}
	tests := []struct {
		name      string
		pos       int64
		wantSizes []int64
		wantEnd   int64
		wantErr   error
	}{
		{"sealed first segment", 1000, []int64{1000, 2000, 4000}, 9000, nil},
		{"sealed segment to nothing", 3000, []int64{3000, 0, 4000}, 9000, nil},
		{"sealed middle segment", 4000, []int64{3000, 1000, 4000}, 9000, nil},
		{"last segment", 6000, []int64{3000, 2000, 1000}, 6000, nil},
		{"at End", 9000, []int64{3000, 2000, 4000}, 9000, nil},
		{"before Start", -1, []int64{3000, 2000, 4000}, 9000, ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, Config{Dir: dir, SegmentSize: testSegmentSize})
			appendRecords(t, l, sizes...)
			err := l.TruncateSegment(tt.pos)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("TruncateSegment(%d) = %v, want %v", tt.pos, err, tt.wantErr)
			}
			var got []int64
			for _, s := range l.Segments() {
				got = append(got, s.Size)
			}
			if !slices.Equal(got, tt.wantSizes) {
				t.Fatalf("segment sizes = %v, want %v", got, tt.wantSizes)
			}
			if got := segmentFiles(t, dir); !slices.Equal(got, []int64{0, 3000, 5000}) {
				t.Fatalf("segment files start at %v, want [0 3000 5000]", got)
			}
			if l.End() != tt.wantEnd {
				t.Fatalf("End = %d, want %d", l.End(), tt.wantEnd)
			}
			checkDisk(t, l)
			// Bytes cut from a sealed segment are gone; later segments stay readable.
			if tt.wantErr == nil && tt.pos < tt.wantEnd {
				if _, err := l.ReadAt(make([]byte, 1), tt.pos); !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("ReadAt(%d) after the cut = %v, want io.ErrUnexpectedEOF", tt.pos, err)
				}
			}
			checkRead(t, l, 5000, 1000)
			appendRecords(t, l, 10)
		})
	}
}

func TestDeleteOldest(t *testing.T) {
	tests := []struct {
		name       string
		sizes      []int
		deletes    int // successful deletions expected before the refusal
		wantStarts []int64
	}{
		{"only segment", []int{100}, 0, []int64{0}},
		{"empty log", nil, 0, []int64{0}},
		{"three segments", []int{3000, 2000, 3000}, 2, []int64{5000}},
		{"two segments", []int{3000, 2000}, 1, []int64{3000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, Config{Dir: dir, SegmentSize: testSegmentSize})
			appendRecords(t, l, tt.sizes...)
			end := l.End()
			for i := range tt.deletes {
				oldest := l.Segments()[0]
				if err := l.DeleteOldest(); err != nil {
					t.Fatalf("DeleteOldest %d: %v", i, err)
				}
				if _, err := os.Stat(oldest.Path); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("segment %s still exists after DeleteOldest: %v", oldest.Path, err)
				}
				if l.Start() != oldest.End() {
					t.Fatalf("Start = %d, want %d", l.Start(), oldest.End())
				}
			}
			if err := l.DeleteOldest(); err == nil {
				t.Fatal("DeleteOldest deleted the active segment")
			}
			if got := segmentStarts(l); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segments start at %v, want %v", got, tt.wantStarts)
			}
			if got := segmentFiles(t, dir); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("segment files start at %v, want %v", got, tt.wantStarts)
			}
			if l.End() != end {
				t.Fatalf("End = %d, want %d", l.End(), end)
			}
			checkContiguous(t, l)
			appendRecords(t, l, 10)
		})
	}
}

// TestDeleteOldestWhileReading deletes a segment that readers are reading:
// each read either succeeds with the right bytes or reports ErrOutOfRange.
func TestDeleteOldestWhileReading(t *testing.T) {
	const readers = 4
	for range 20 {
		l := openLog(t, Config{Dir: t.TempDir(), SegmentSize: testSegmentSize})
		appendRecords(t, l, 3000, 2000, 3000)
		var started sync.WaitGroup
		started.Add(readers)
		var wg sync.WaitGroup
		for r := range readers {
			wg.Go(func() {
				p := make([]byte, 1000)
				pos := int64(r * 500)
				for i := 0; ; i++ {
					if i == 10 {
						started.Done()
					}
					_, err := l.ReadAt(p, pos)
					if errors.Is(err, ErrOutOfRange) {
						if i < 10 {
							started.Done()
						}
						return
					}
					if err != nil {
						t.Errorf("ReadAt(%d) while deleting: %v", pos, err)
						return
					}
					if !bytes.Equal(p, content(pos, len(p))) {
						t.Errorf("ReadAt(%d) while deleting read other bytes than were appended", pos)
						return
					}
				}
			})
		}
		started.Wait()
		if err := l.DeleteOldest(); err != nil {
			t.Fatalf("DeleteOldest: %v", err)
		}
		wg.Wait()
		checkRead(t, l, 3000, 1000)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrent runs one appender, several readers, a Sync loop and
// retention at once; run it with -race.
func TestConcurrent(t *testing.T) {
	const (
		records     = 3000
		readers     = 4
		maxSegments = 6
	)
	l := openLog(t, Config{Dir: t.TempDir(), SegmentSize: testSegmentSize})

	type span struct {
		pos int64
		n   int
	}
	var mu sync.Mutex
	var appended []span
	done := make(chan struct{})
	var wg sync.WaitGroup

	wg.Go(func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(1, 2))
		for range records {
			n := 1 + rng.IntN(1500)
			want := l.End()
			pos, err := l.Append(content(want, n))
			if err != nil || pos != want {
				t.Errorf("Append = %d, %v; want %d, nil", pos, err, want)
				return
			}
			mu.Lock()
			appended = append(appended, span{pos, n})
			mu.Unlock()
		}
	})
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 3))
			var p []byte
			for {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				if len(appended) == 0 {
					mu.Unlock()
					continue
				}
				s := appended[rng.IntN(len(appended))]
				mu.Unlock()
				if cap(p) < s.n {
					p = make([]byte, s.n)
				}
				p = p[:s.n]
				_, err := l.ReadAt(p, s.pos)
				switch {
				case errors.Is(err, ErrOutOfRange):
					if start := l.Start(); s.pos >= start {
						t.Errorf("ReadAt(%d) = %v, but Start is %d", s.pos, err, start)
						return
					}
				case err != nil:
					t.Errorf("ReadAt(%d bytes, %d): %v", s.n, s.pos, err)
					return
				case !bytes.Equal(p, content(s.pos, s.n)):
					t.Errorf("ReadAt(%d bytes, %d) read other bytes than were appended", s.n, s.pos)
					return
				}
			}
		})
	}
	wg.Go(func() {
		last := int64(0)
		for {
			select {
			case <-done:
				return
			default:
			}
			before := l.End()
			end, err := l.Sync()
			if err != nil {
				t.Errorf("Sync: %v", err)
				return
			}
			if end < before || end < last || end > l.End() {
				t.Errorf("Sync = %d; End was %d before, %d after, previous Sync %d", end, before, l.End(), last)
				return
			}
			last = end
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if len(l.Segments()) > maxSegments {
				if err := l.DeleteOldest(); err != nil {
					t.Errorf("DeleteOldest: %v", err)
					return
				}
			}
		}
	})
	wg.Wait()

	if end, err := l.Sync(); err != nil || end != l.End() {
		t.Fatalf("final Sync = %d, %v; want %d, nil", end, err, l.End())
	}
	checkContiguous(t, l)
	checkDisk(t, l)
}

// BenchmarkAppend appends 64 KiB records without syncing; the log itself
// allocates nothing per record (rolling a segment allocates, once per 512
// records here).
func BenchmarkAppend(b *testing.B) {
	const recSize = 64 << 10
	const segmentSize = 32 << 20
	l := openLog(b, Config{Dir: b.TempDir(), SegmentSize: segmentSize})
	rec := content(0, recSize)
	b.SetBytes(recSize)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Append(rec); err != nil {
			b.Fatal(err)
		}
		if i%(2*segmentSize/recSize) == 0 && i > 0 {
			// Keep the disk footprint small.
			b.StopTimer()
			for len(l.Segments()) > 1 {
				if err := l.DeleteOldest(); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
	}
}
