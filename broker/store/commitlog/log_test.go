package commitlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
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
