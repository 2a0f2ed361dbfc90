package vfs

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// writeFile creates name with data through fs, failing the test on any error.
func writeFile(t *testing.T, fs FS, name string, data []byte) {
	t.Helper()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", name, err)
	}
}

func readFile(t *testing.T, fs FS, name string) []byte {
	t.Helper()
	b, err := ReadFile(fs, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func TestOSFS(t *testing.T) {
	fs := Default
	tests := []struct {
		name string
		run  func(t *testing.T, dir string)
	}{
		{"create write readat stat", func(t *testing.T, dir string) {
			name := filepath.Join(dir, "f")
			f, err := fs.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if n, err := f.Write([]byte("hello world")); n != 11 || err != nil {
				t.Fatalf("write = %d, %v", n, err)
			}
			buf := make([]byte, 5)
			if n, err := f.ReadAt(buf, 6); n != 5 || err != nil || string(buf) != "world" {
				t.Fatalf("readat = %d, %q, %v; want 5, \"world\", nil", n, buf, err)
			}
			fi, err := f.Stat()
			if err != nil || fi.Size() != 11 {
				t.Fatalf("stat = %v, %v; want size 11", fi, err)
			}
		}},
		{"create truncates", func(t *testing.T, dir string) {
			name := filepath.Join(dir, "f")
			writeFile(t, fs, name, []byte("a long first version"))
			writeFile(t, fs, name, []byte("short"))
			if got := readFile(t, fs, name); string(got) != "short" {
				t.Fatalf("content %q, want %q", got, "short")
			}
		}},
		{"open read-write keeps content and creates", func(t *testing.T, dir string) {
			name := filepath.Join(dir, "f")
			writeFile(t, fs, name, []byte("0123456789"))
			f, err := fs.OpenReadWrite(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("ab"), 8); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, fs, name); string(got) != "01234567ab" {
				t.Fatalf("content %q, want %q", got, "01234567ab")
			}
			missing := filepath.Join(dir, "new")
			f, err = fs.OpenReadWrite(missing)
			if err != nil {
				t.Fatalf("open read-write of a missing file: %v", err)
			}
			f.Close()
			if !Exists(fs, missing) {
				t.Fatal("open read-write did not create the file")
			}
		}},
		{"open is read-only", func(t *testing.T, dir string) {
			name := filepath.Join(dir, "f")
			writeFile(t, fs, name, []byte("x"))
			f, err := fs.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("y")); err == nil {
				t.Fatal("write to a file opened read-only succeeded")
			}
			if _, err := fs.Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("open missing: %v, want ErrNotExist", err)
			}
		}},
		{"sync", func(t *testing.T, dir string) {
			f, err := fs.Create(filepath.Join(dir, "f"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("data")); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
		}},
		{"truncate", func(t *testing.T, dir string) {
			name := filepath.Join(dir, "f")
			f, err := fs.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("0123456789")); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(4); err != nil {
				t.Fatal(err)
			}
			fi, err := fs.Stat(name)
			if err != nil || fi.Size() != 4 {
				t.Fatalf("stat after truncate = %v, %v; want size 4", fi, err)
			}
			buf := make([]byte, 8)
			n, err := f.ReadAt(buf, 0)
			if n != 4 || err != io.EOF || string(buf[:n]) != "0123" {
				t.Fatalf("readat after truncate = %d, %q, %v; want 4, \"0123\", EOF", n, buf[:n], err)
			}
		}},
		{"rename and remove", func(t *testing.T, dir string) {
			oldname, newname := filepath.Join(dir, "old"), filepath.Join(dir, "new")
			writeFile(t, fs, oldname, []byte("payload"))
			if err := fs.Rename(oldname, newname); err != nil {
				t.Fatal(err)
			}
			if Exists(fs, oldname) {
				t.Fatal("old name still exists after rename")
			}
			if got := readFile(t, fs, newname); string(got) != "payload" {
				t.Fatalf("renamed content %q", got)
			}
			if err := fs.Remove(newname); err != nil {
				t.Fatal(err)
			}
			if Exists(fs, newname) {
				t.Fatal("file exists after remove")
			}
			if err := fs.Remove(newname); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("second remove: %v, want ErrNotExist", err)
			}
		}},
		{"list is sorted", func(t *testing.T, dir string) {
			for _, n := range []string{"c", "a", "10", "b", "2"} {
				writeFile(t, fs, filepath.Join(dir, n), nil)
			}
			if err := fs.MkdirAll(filepath.Join(dir, "d", "e"), 0o755); err != nil {
				t.Fatal(err)
			}
			got, err := fs.List(dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"10", "2", "a", "b", "c", "d"}; !slices.Equal(got, want) {
				t.Fatalf("list = %q, want %q", got, want)
			}
			if _, err := fs.List(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("list missing dir: %v, want ErrNotExist", err)
			}
		}},
		{"syncdir", func(t *testing.T, dir string) {
			writeFile(t, fs, filepath.Join(dir, "f"), []byte("x"))
			if err := fs.SyncDir(dir); err != nil {
				t.Fatalf("syncdir: %v", err)
			}
			if err := fs.SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("syncdir of a missing dir: %v, want ErrNotExist", err)
			}
		}},
		{"disk usage", func(t *testing.T, dir string) {
			du, err := fs.DiskUsage(dir)
			if err != nil {
				t.Fatal(err)
			}
			if du.Total == 0 || du.Avail > du.Total {
				t.Fatalf("disk usage %+v: want Total > 0 and Avail <= Total", du)
			}
			if f := du.UsedFraction(); f < 0 || f > 1 {
				t.Fatalf("used fraction %v outside [0, 1]", f)
			}
			_, err = fs.DiskUsage(filepath.Join(dir, "missing"))
			if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
				t.Fatalf("disk usage of a missing path: %v, want ErrNotExist naming the path", err)
			}
		}},
		{"exists", func(t *testing.T, dir string) {
			name := filepath.Join(dir, "f")
			if Exists(fs, name) {
				t.Fatal("missing file exists")
			}
			writeFile(t, fs, name, nil)
			if !Exists(fs, name) {
				t.Fatal("created file does not exist")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, t.TempDir()) })
	}
}

func TestUsedFraction(t *testing.T) {
	tests := []struct {
		du   DiskUsage
		want float64
	}{
		{DiskUsage{}, 0},
		{DiskUsage{Total: 100, Avail: 100}, 0},
		{DiskUsage{Total: 100, Avail: 25}, 0.75},
		{DiskUsage{Total: 100, Avail: 0}, 1},
		// Avail above Total is nonsense from the kernel; report an empty
		// disk rather than a negative share.
		{DiskUsage{Total: 100, Avail: 200}, 0},
	}
	for _, tt := range tests {
		if got := tt.du.UsedFraction(); got != tt.want {
			t.Errorf("%+v.UsedFraction() = %v, want %v", tt.du, got, tt.want)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	tests := []struct {
		name string
		old  []byte // nil: no file before
		data []byte
	}{
		{"new file", nil, []byte("first")},
		{"replace longer", []byte("a much longer old content"), []byte("new")},
		{"replace shorter", []byte("old"), []byte("a much longer new content")},
		{"empty", []byte("old"), []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "checkpoint")
			if tt.old != nil {
				writeFile(t, Default, name, tt.old)
			}
			if err := WriteFileAtomic(Default, name, tt.data); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, Default, name); !bytes.Equal(got, tt.data) {
				t.Fatalf("content %q, want %q", got, tt.data)
			}
			entries, err := Default.List(dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"checkpoint"}; !slices.Equal(entries, want) {
				t.Fatalf("dir holds %q, want %q (no .tmp left behind)", entries, want)
			}
		})
	}
}

var errInjected = errors.New("injected fault")

// failOn returns an injector that fails op on name and records every call.
func failOn(op Op, name string, calls *[]string) Injector {
	var mu sync.Mutex
	return func(o Op, n string) error {
		mu.Lock()
		*calls = append(*calls, o.String()+" "+n)
		mu.Unlock()
		if o == op && n == name {
			return errInjected
		}
		return nil
	}
}

func TestFaultFSInjectedErrors(t *testing.T) {
	tests := []struct {
		op Op
		// target is the name the injector must see, relative to the test dir.
		target string
		// do performs op; setup has created dir/f with "0123456789" and dir/sub.
		do func(fs FS, f File, dir string) error
	}{
		{OpCreate, "new", func(fs FS, _ File, dir string) error {
			_, err := fs.Create(filepath.Join(dir, "new"))
			return err
		}},
		{OpOpen, "f", func(fs FS, _ File, dir string) error {
			_, err := fs.Open(filepath.Join(dir, "f"))
			return err
		}},
		{OpOpen, "f", func(fs FS, _ File, dir string) error {
			_, err := fs.OpenReadWrite(filepath.Join(dir, "f"))
			return err
		}},
		{OpSync, "f", func(_ FS, f File, _ string) error { return f.Sync() }},
		{OpTruncate, "f", func(_ FS, f File, _ string) error { return f.Truncate(0) }},
		{OpRemove, "f", func(fs FS, _ File, dir string) error { return fs.Remove(filepath.Join(dir, "f")) }},
		{OpRename, "f", func(fs FS, _ File, dir string) error {
			return fs.Rename(filepath.Join(dir, "f"), filepath.Join(dir, "g"))
		}},
		{OpSyncDir, "sub", func(fs FS, _ File, dir string) error { return fs.SyncDir(filepath.Join(dir, "sub")) }},
	}
	for _, tt := range tests {
		t.Run(tt.op.String(), func(t *testing.T) {
			dir := t.TempDir()
			ffs := NewFaultFS(Default)
			if err := ffs.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := ffs.Create(filepath.Join(dir, "f"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("0123456789")); err != nil {
				t.Fatal(err)
			}

			var calls []string
			target := filepath.Join(dir, tt.target)
			ffs.Inject(failOn(tt.op, target, &calls))
			err = tt.do(ffs, f, dir)
			if !errors.Is(err, errInjected) {
				t.Fatalf("%s: got %v, want the injected error", tt.op, err)
			}
			if !strings.Contains(err.Error(), tt.target) {
				t.Errorf("error %q does not name the file", err)
			}
			if want := tt.op.String() + " " + target; !slices.Equal(calls, []string{want}) {
				t.Errorf("injector saw %q, want [%q]", calls, want)
			}

			// The failed operation must have had no effect.
			switch tt.op {
			case OpTruncate, OpRemove, OpRename:
				if got := readFile(t, Default, filepath.Join(dir, "f")); string(got) != "0123456789" {
					t.Errorf("after the failed %s the file holds %q", tt.op, got)
				}
			case OpCreate:
				if Exists(Default, target) {
					t.Errorf("failed create made %s", target)
				}
			}

			// Without an injector the same operation goes through.
			ffs.Inject(nil)
			if err := tt.do(ffs, f, dir); err != nil {
				t.Fatalf("%s with no injector: %v", tt.op, err)
			}
		})
	}
}

// TestFaultFSWriteHalf checks that a failed write stores a prefix, the worst
// case the store's recovery has to cope with.
func TestFaultFSWriteHalf(t *testing.T) {
	data := []byte("0123456789")
	tests := []struct {
		name    string
		setup   func(*FaultFS, string)
		wantErr error
		write   func(File) (int, error)
		want    string // file content afterwards
	}{
		{"write injected", func(f *FaultFS, name string) { f.Inject(failOn(OpWrite, name, new([]string))) },
			errInjected, func(f File) (int, error) { return f.Write(data) }, "abcd01234"},
		{"writeat injected", func(f *FaultFS, name string) { f.Inject(failOn(OpWrite, name, new([]string))) },
			errInjected, func(f File) (int, error) { return f.WriteAt(data, 2) }, "ab01234"},
		{"write no space", func(f *FaultFS, _ string) { f.SetNoSpace(true) },
			syscall.ENOSPC, func(f File) (int, error) { return f.Write(data) }, "abcd01234"},
		{"writeat no space", func(f *FaultFS, _ string) { f.SetNoSpace(true) },
			syscall.ENOSPC, func(f File) (int, error) { return f.WriteAt(data, 2) }, "ab01234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "seg")
			ffs := NewFaultFS(Default)
			f, err := ffs.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("abcd")); err != nil {
				t.Fatal(err)
			}
			tt.setup(ffs, name)
			n, err := tt.write(f)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("write error %v, want errors.Is %v", err, tt.wantErr)
			}
			if n != len(data)/2 {
				t.Errorf("write reported %d bytes, want %d", n, len(data)/2)
			}
			if got := readFile(t, Default, name); string(got) != tt.want {
				t.Errorf("file holds %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFaultFSOtherFilesUnaffected(t *testing.T) {
	dir := t.TempDir()
	bad, good := filepath.Join(dir, "bad"), filepath.Join(dir, "good")
	ffs := NewFaultFS(Default)
	ffs.Inject(failOn(OpWrite, bad, new([]string)))
	writeFile(t, ffs, good, []byte("fine"))
	f, err := ffs.Create(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("x")); !errors.Is(err, errInjected) {
		t.Fatalf("write to %s: %v, want the injected error", bad, err)
	}
}

func TestFaultFSNoSpace(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	ffs := NewFaultFS(Default)
	ffs.SetNoSpace(true)
	du, err := ffs.DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if du.Avail != 0 || du.UsedFraction() != 1 {
		t.Fatalf("full disk reports %+v, used %v; want Avail 0, used 1", du, du.UsedFraction())
	}
	err = WriteFileAtomic(ffs, name, []byte("data"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("atomic write on a full disk: %v, want ENOSPC", err)
	}
	if entries, _ := Default.List(dir); len(entries) != 0 {
		t.Fatalf("failed atomic write left %q", entries)
	}

	// Writes resume when space returns.
	ffs.SetNoSpace(false)
	if err := WriteFileAtomic(ffs, name, []byte("data")); err != nil {
		t.Fatalf("atomic write after space returned: %v", err)
	}
	if got := readFile(t, ffs, name); string(got) != "data" {
		t.Fatalf("content %q", got)
	}
}

func TestFaultFSUsedFraction(t *testing.T) {
	dir := t.TempDir()
	ffs := NewFaultFS(Default)
	osDU, err := Default.DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, frac := range []float64{0.25, 0.5, 0.9, 1} {
		ffs.SetUsedFraction(frac)
		du, err := ffs.DiskUsage(dir)
		if err != nil {
			t.Fatal(err)
		}
		// Avail is rounded to a byte, so allow a byte's worth of error.
		if got := du.UsedFraction(); math.Abs(got-frac) > 1/float64(du.Total)+1e-9 {
			t.Errorf("SetUsedFraction(%v): UsedFraction() = %v", frac, got)
		}
		if du.Total != osDU.Total {
			t.Errorf("SetUsedFraction(%v) changed Total from %d to %d", frac, osDU.Total, du.Total)
		}
	}
	ffs.SetUsedFraction(0)
	du, err := ffs.DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Other processes write to the same disk; the real figure only has to be
	// back near what the OS reported, not equal to it.
	if math.Abs(du.UsedFraction()-osDU.UsedFraction()) > 0.05 {
		t.Errorf("after SetUsedFraction(0): used %v, the OS reports %v", du.UsedFraction(), osDU.UsedFraction())
	}
}

// TestFaultFSConcurrent toggles faults while files are written; run with
// -race it checks FaultFS's own locking.
func TestFaultFSConcurrent(t *testing.T) {
	dir := t.TempDir()
	ffs := NewFaultFS(Default)
	var wg sync.WaitGroup
	for i := range 4 {
		// Create before any fault is injected: only the writes race with
		// the toggling below.
		f, err := ffs.Create(filepath.Join(dir, string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.Close()
			for range 200 {
				f.Write([]byte("0123456789")) // failures are expected here
				f.Sync()
			}
		}()
	}
	for i := range 200 {
		ffs.SetNoSpace(i%2 == 0)
		ffs.SetUsedFraction(float64(i%10) / 10)
		if i%3 == 0 {
			ffs.Inject(func(Op, string) error { return errInjected })
		} else {
			ffs.Inject(nil)
		}
		if _, err := ffs.DiskUsage(dir); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
