package tail

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestGlobDoubleStar(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.log", "x/b.log", "x/y/c.log", "x/y/c.txt", "z/d.log"} {
		p = filepath.Join(dir, p)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, nil, 0o644))
	}
	rel := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			r, _ := filepath.Rel(dir, p)
			out = append(out, r)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"**/*.log", []string{"a.log", "x/b.log", "x/y/c.log", "z/d.log"}},
		{"x/**/*.log", []string{"x/b.log", "x/y/c.log"}},
		{"x/**/c.*", []string{"x/y/c.log", "x/y/c.txt"}},
		{"*/*.log", []string{"x/b.log", "z/d.log"}},
	}
	for _, tc := range tests {
		if got := rel(glob(filepath.Join(dir, tc.pattern))); !slices.Equal(got, tc.want) {
			t.Errorf("glob %s: %v, want %v", tc.pattern, got, tc.want)
		}
	}
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"/var/log/**/*.gz", "/var/log/a/b/c.gz", true},
		{"/var/log/**/*.gz", "/var/log/c.gz", true},
		{"/var/log/**/*.gz", "/var/log/c.log", false},
		{"/var/*/x.log", "/var/a/b/x.log", false},
	} {
		if got := globMatch(c.pattern, c.path); got != c.want {
			t.Errorf("globMatch(%s, %s) = %v", c.pattern, c.path, got)
		}
	}
}

// TestIncludeDoubleStarExclude: files in nested directories are found
// by a "**" include, minus the excluded ones.
func TestIncludeDoubleStarExclude(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	appendLines(t, filepath.Join(dir, "a", "b", "app.log"), 0, 3)
	appendLines(t, filepath.Join(dir, "a", "skip.log"), 100, 103)
	var col collector
	start(t, Config{Include: []string{filepath.Join(dir, "**", "*.log")}, Exclude: []string{"skip.*"}, Topic: "logs",
		StateDir: t.TempDir(), StartAt: "beginning"}, &col)
	waitLines(t, &col, 3)
	time.Sleep(50 * time.Millisecond) // nothing more may come
	checkSequence(t, col.bodies(), 3)
}
