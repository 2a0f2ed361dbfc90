package file

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

// dirNames lists dir's files (recursively, relative, sorted).
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func TestWriteByPath(t *testing.T) {
	dir := t.TempDir()
	s := newTestSink(t, Config{Path: dir + "/{{ meta.host }}/app-%Y-%m-%d.log", Encoding: "text", Mode: 0o640}, &fakeClock{now: t0})
	day2 := t0.Add(24 * time.Hour)
	a, b := map[string]string{"host": "a"}, map[string]string{"host": "b"}
	mustWrite(t, s,
		logAt("a1", t0, a), logAt("b1", t0, b), logAt("a2", day2, a), logAt("a3", t0, a),
		logAt("x1", t0, map[string]string{"host": "../.."}), logAt("b2", t0, b))
	want := map[string]string{
		"a/app-2026-11-28.log":     "a1\na3\n",
		"a/app-2026-11-29.log":     "a2\n",
		"b/app-2026-11-28.log":     "b1\nb2\n",
		".._../app-2026-11-28.log": "x1\n",
	}
	var names []string
	for name, content := range want {
		names = append(names, name)
		if got := readString(t, filepath.Join(dir, name)); got != content {
			t.Errorf("%s: got %q, want %q", name, got, content)
		}
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v (%v), want 0640", name, st.Mode(), err)
		}
	}
	slices.Sort(names)
	if got := dirNames(t, dir); !slices.Equal(got, names) {
		t.Errorf("files %q, want %q", got, names)
	}
	if st, err := os.Stat(filepath.Join(dir, "a")); err != nil || st.Mode().Perm() != 0o750 {
		t.Errorf("directory mode %v (%v), want 0750", st.Mode(), err)
	}
}

// TestReopenAppends checks that data is in the file when Write returns
// (with and without fsync) and that opening an existing file, after a
// restart or an idle close, appends to it.
func TestReopenAppends(t *testing.T) {
	for _, fsync := range []bool{true, false} {
		t.Run(fmt.Sprint("fsync=", fsync), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{now: t0}
			cfg := Config{Path: path, Encoding: "text", Fsync: boolPtr(fsync)}
			s := newTestSink(t, cfg, clock)
			mustWrite(t, s, logAt("one", t0, nil))
			if got := readString(t, path); got != "old\none\n" {
				t.Fatalf("after Write: %q", got)
			}
			clock.Add(2 * time.Minute) // past idle_close
			s.tick()
			if n := len(s.files.byPath); n != 0 {
				t.Fatalf("%d files open after idle_close", n)
			}
			mustWrite(t, s, logAt("two", t0, nil))
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			s2 := newTestSink(t, cfg, clock)
			mustWrite(t, s2, logAt("three", t0, nil))
			if got := readString(t, path); got != "old\none\ntwo\nthree\n" {
				t.Fatalf("after reopening: %q", got)
			}
		})
	}
}

func TestRotateBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	if err := os.WriteFile(path, []byte(strings.Repeat("p", 79)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newTestSink(t, Config{Path: path, Encoding: "text", Rotate: Rotate{MaxSize: 100}}, &fakeClock{now: t0})
	line := func(c byte) *event.Event { return logAt(strings.Repeat(string(c), 29), t0, nil) } // 30 bytes
	var batch []*event.Event
	for c := byte('a'); c < 'a'+7; c++ {
		batch = append(batch, line(c))
	}
	batch = append(batch, logAt(strings.Repeat("B", 150), t0, nil), line('z'))
	mustWrite(t, s, batch...)
	l := func(c byte) string { return strings.Repeat(string(c), 29) + "\n" }
	want := map[string]string{
		"app.log.20261128T101500":   strings.Repeat("p", 79) + "\n", // 80 + 30 > 100
		"app.log.20261128T101500-1": l('a') + l('b') + l('c'),
		"app.log.20261128T101500-2": l('d') + l('e') + l('f'),
		"app.log.20261128T101500-3": l('g'),
		"app.log.20261128T101500-4": strings.Repeat("B", 150) + "\n", // alone: bigger than max_size
		"app.log":                   l('z'),
	}
	checkFiles(t, dir, want)
	if got := s.m.rotations.Get(); got != 5 {
		t.Errorf("rotations = %d, want 5", got)
	}
}

func checkFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	var names []string
	for name, content := range want {
		names = append(names, name)
		if got := readString(t, filepath.Join(dir, name)); got != content {
			t.Errorf("%s: got %q, want %q", name, got, content)
		}
	}
	slices.Sort(names)
	if got := dirNames(t, dir); !slices.Equal(got, names) {
		t.Errorf("files:\n got %q\nwant %q", got, names)
	}
}

func TestRotateByAge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	clock := &fakeClock{now: t0}
	s := newTestSink(t, Config{Path: path, Encoding: "text", IdleClose: config.Duration(24 * time.Hour),
		Rotate: Rotate{MaxAge: config.Duration(time.Hour)}}, clock)
	mustWrite(t, s, logAt("1", t0, nil))
	clock.Add(59 * time.Minute)
	mustWrite(t, s, logAt("2", t0, nil))
	clock.Add(time.Minute) // the file is an hour old: the next write rotates first
	mustWrite(t, s, logAt("3", t0, nil))
	checkFiles(t, dir, map[string]string{"app.log.20261128T111500": "1\n2\n", "app.log": "3\n"})

	// The janitor rotates an old file nothing writes to.
	clock.Add(time.Hour)
	s.tick()
	checkFiles(t, dir, map[string]string{"app.log.20261128T111500": "1\n2\n", "app.log.20261128T121500": "3\n"})
	if n := len(s.files.byPath); n != 0 {
		t.Errorf("%d files open after rotation by the janitor", n)
	}
	// An empty file is not rotated.
	clock.Add(2 * time.Hour)
	s.tick()
	mustWrite(t, s, logAt("4", t0, nil))
	clock.Add(2 * time.Hour)
	mustWrite(t, s, logAt("5", t0, nil))
	checkFiles(t, dir, map[string]string{"app.log.20261128T111500": "1\n2\n", "app.log.20261128T121500": "3\n",
		"app.log.20261128T161500": "4\n", "app.log": "5\n"})
}

func TestKeep(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	clock := &fakeClock{now: t0}
	s := newTestSink(t, Config{Path: path, Encoding: "text", Keep: 2, Rotate: Rotate{MaxSize: 2}}, clock)
	// Someone else's file with a similar name stays.
	if err := os.WriteFile(filepath.Join(dir, "app.log.old"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustWrite(t, s, logAt(fmt.Sprint(i), t0, nil))
		clock.Add(time.Second)
	}
	checkFiles(t, dir, map[string]string{"app.log.old": "",
		"app.log.20261128T101503": "2\n", "app.log.20261128T101504": "3\n", "app.log": "4\n"})
	if got := s.m.removed.Get(); got != 2 {
		t.Errorf("removed = %d, want 2", got)
	}
}

func TestCompress(t *testing.T) {
	for _, kind := range []string{"gzip", "zstd"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			ext := map[string]string{"gzip": ".gz", "zstd": ".zst"}[kind]
			// A rotated file a crash left uncompressed, and a stale
			// temporary file.
			leftover := filepath.Join(dir, "app.log.20261128T090000")
			if err := os.WriteFile(leftover, []byte("left\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{now: t0}
			s, err := newSink(Config{Path: path, Encoding: "text", Compress: kind, Keep: 3, Rotate: Rotate{MaxSize: 1000}},
				testSettings(), clock.Now, false)
			if err != nil {
				t.Fatal(err)
			}
			line := strings.Repeat("x", 99) + "\n"
			var contents []string
			for i := range 4 {
				var batch []*event.Event
				for range 10 {
					batch = append(batch, logAt(strings.Repeat(fmt.Sprint(i), 99), t0, nil))
				}
				contents = append(contents, strings.Repeat(strings.ReplaceAll(line, "x", fmt.Sprint(i)), 10))
				mustWrite(t, s, batch...)
				clock.Add(time.Second)
			}
			mustWrite(t, s, logAt("last", t0, nil))
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			// A full file rotates before the next write, stamped with the
			// time of rotation: four rotations, keep 3 removed the oldest.
			want := map[string]string{"app.log": "last\n"}
			for i, c := range contents[1:] {
				want[fmt.Sprintf("app.log.20261128T10150%d%s", i+2, ext)] = c
			}
			var names []string
			for name, content := range want {
				names = append(names, name)
				if got := readCompressed(t, filepath.Join(dir, name), ext); got != content {
					t.Errorf("%s: got %q, want %q", name, got, content)
				}
			}
			slices.Sort(names)
			if got := dirNames(t, dir); !slices.Equal(got, names) {
				t.Errorf("files:\n got %q\nwant %q", got, names)
			}
			if got := s.compressor.compressed.Get(); got != 5 {
				t.Errorf("compressed = %d, want 5 (4 rotated and the leftover)", got)
			}
		})
	}
}

// The first rotated file is one second after t0 (the first batch of
// 1000 bytes fills the file; the second rotates it).
func readCompressed(t *testing.T, path, ext string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func TestMaxOpenFiles(t *testing.T) {
	dir := t.TempDir()
	s := newTestSink(t, Config{Path: dir + "/{{ meta.host }}.log", Encoding: "text", MaxOpenFiles: 2}, &fakeClock{now: t0})
	var batch []*event.Event
	want := map[string]string{}
	for i := range 12 {
		host := fmt.Sprint("h", i%4)
		batch = append(batch, logAt(fmt.Sprint(i), t0, map[string]string{"host": host}))
		want[host+".log"] += fmt.Sprint(i) + "\n"
	}
	mustWrite(t, s, batch...)
	mustWrite(t, s, batch[:1]...)
	want["h0.log"] += "0\n"
	checkFiles(t, dir, want)
	if n := len(s.files.byPath); n != 2 {
		t.Errorf("%d files open, want 2", n)
	}
	// h0 was reopened by the second Write: 4 opens, 3 closes.
	if opens, closes := s.m.opens.Get(), s.m.lruCloses.Get(); opens != 5 || closes != 3 {
		t.Errorf("opens %d, LRU closes %d; want 5 and 3", opens, closes)
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newTestSink(t, Config{Path: dir + "/file/app.log"}, &fakeClock{now: t0})
	err := s.Write(context.Background(), []*event.Event{logAt("x", t0, nil)})
	want := fmt.Sprintf("file sink out: write 1 events: open %s/file/app.log: not a directory", dir)
	if err == nil || err.Error() != want {
		t.Errorf("Write: %v\nwant %s", err, want)
	}
	if got := s.m.retries.Get(); got != 0 {
		t.Errorf("retries = %d for a permanent error", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Write(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled context: %v", err)
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("write a: %w", &os.PathError{Op: "write", Path: "a", Err: syscall.ENOSPC}), true},
		{fmt.Errorf("open a: %w", syscall.EMFILE), true},
		{fmt.Errorf("open a: %w", syscall.EACCES), false},
		{&syncError{fmt.Errorf("fsync a: %w", syscall.EIO)}, false},
		{errors.New("other"), false},
	}
	for _, tt := range tests {
		if got := transient(tt.err); got != tt.want {
			t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestJanitor runs the real goroutine: an idle file gets closed.
func TestJanitor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	s, err := New(Config{Path: path, IdleClose: config.Duration(20 * time.Millisecond)}, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	mustWrite(t, s, logAt("x", t0, nil))
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.mu.Lock()
		n := len(s.files.byPath)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle file was not closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.m.idleCloses.Get(); got != 1 {
		t.Errorf("idle closes = %d, want 1", got)
	}
}

func TestParseRotated(t *testing.T) {
	tests := []struct {
		in   string
		want rotated
		ok   bool
	}{
		{"20261128T101500", rotated{stamp: "20261128T101500"}, true},
		{"20261128T101500-12.gz", rotated{stamp: "20261128T101500", seq: 12, compressed: true}, true},
		{"20261128T101500.zst", rotated{stamp: "20261128T101500", compressed: true}, true},
		{"20261128T101500.gz.tmp", rotated{}, false},
		{"20261128T101500-0", rotated{}, false},
		{"20261128T101500x", rotated{}, false},
		{"old", rotated{}, false},
		{"20261328T101500", rotated{}, false},
	}
	for _, tt := range tests {
		got, ok := parseRotated(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parseRotated(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
