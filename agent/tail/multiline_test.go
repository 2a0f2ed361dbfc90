package tail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMultiline(t *testing.T) {
	tests := []struct {
		name string
		ml   Multiline
		in   string
		want []string
	}{
		{"start pattern", Multiline{StartPattern: `^\d{4}-`},
			"2026-01 a\n  at x\n  at y\n2026-02 b\n2026-03 c\n  at z\n",
			[]string{"2026-01 a\n  at x\n  at y", "2026-02 b", "2026-03 c\n  at z"}},
		{"continuation pattern", Multiline{ContinuationPattern: `^\s`},
			"Exception\n\tat a\n\tat b\nnext\nlast\n\tat c\n",
			[]string{"Exception\n\tat a\n\tat b", "next", "last\n\tat c"}},
		{"max lines", Multiline{StartPattern: `^S`, MaxLines: 2},
			"S1\nc\nc\nc\nS2\n",
			[]string{"S1\nc", "c\nc", "S2"}},
		{"continuation without a start", Multiline{StartPattern: `^S`},
			"orphan\nS1\nc\n",
			[]string{"orphan", "S1\nc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "app.log")
			os.WriteFile(log, []byte(tc.in), 0o644)
			ml := tc.ml
			ml.FlushTimeout = 20 * time.Millisecond
			var col collector
			start(t, Config{Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning", Multiline: &ml}, &col)
			waitLines(t, &col, len(tc.want))
			time.Sleep(50 * time.Millisecond) // nothing more may come
			got := col.bodies()
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMultilineFlushTimeout: the last event of a file that is still
// being written goes out once no line came for FlushTimeout, not before.
func TestMultilineFlushTimeout(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	os.WriteFile(log, []byte("S1\n c\n"), 0o644)
	var col collector
	ml := &Multiline{StartPattern: `^S`, FlushTimeout: 300 * time.Millisecond}
	start(t, Config{Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning", Multiline: ml}, &col)
	time.Sleep(100 * time.Millisecond)
	if got := col.bodies(); len(got) != 0 {
		t.Fatalf("event emitted before its flush timeout: %q", got)
	}
	appendRaw(t, log, " d\n") // the event goes on: its timer restarts
	waitLines(t, &col, 1)
	if got := col.bodies()[0]; got != "S1\n c\n d" {
		t.Fatalf("event %q", got)
	}
}

// TestMultilineRestart: an event that was read but not emitted when the
// tailer stopped is read again, whole, after the restart.
func TestMultilineRestart(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	state := t.TempDir()
	os.WriteFile(log, []byte("S1\n a\nS2\n b\n"), 0o644)
	ml := &Multiline{StartPattern: `^S`, FlushTimeout: time.Hour}
	cfg := Config{Include: []string{log}, Topic: "logs", StateDir: state, StartAt: "beginning", Multiline: ml}
	var col collector
	r := start(t, cfg, &col)
	waitLines(t, &col, 1) // S1 ended when S2 began; S2 waits for its timeout
	time.Sleep(50 * time.Millisecond)
	r.stop(t)
	appendRaw(t, log, " c\nS3\n")
	var col2 collector
	start(t, cfg, &col2)
	waitLines(t, &col2, 1)
	if got := col.bodies(); len(got) != 1 || got[0] != "S1\n a" {
		t.Fatalf("first run %q", got)
	}
	if got := col2.bodies()[0]; got != "S2\n b\n c" {
		t.Fatalf("second run began with %q, want the whole S2 event", got)
	}
}

// TestMultilineRotatedAwayEndsEvent: the last event of a renamed file is
// emitted when the file is drained, without waiting for the timeout.
func TestMultilineRotatedAwayEndsEvent(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	os.WriteFile(log, []byte("S1\n a\n"), 0o644)
	var col collector
	ml := &Multiline{StartPattern: `^S`, FlushTimeout: time.Hour}
	start(t, Config{Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning", Multiline: ml}, &col)
	time.Sleep(50 * time.Millisecond)
	os.Rename(log, log+".1")
	waitLines(t, &col, 1)
	if got := col.bodies()[0]; got != "S1\n a" {
		t.Fatalf("event %q", got)
	}
}

func appendRaw(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Include: []string{"/x/*.log"}, Topic: "logs", StateDir: "/s"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"no include", func(c *Config) { c.Include = nil }, "include globs are required"},
		{"bad glob", func(c *Config) { c.Exclude = []string{"["} }, `glob "["`},
		{"no topic", func(c *Config) { c.Topic = "" }, "topic is required"},
		{"no state dir", func(c *Config) { c.StateDir = "" }, "state dir is required"},
		{"start_at", func(c *Config) { c.StartAt = "middle" }, `start_at "middle"`},
		{"negative", func(c *Config) { c.Linger = -1 }, "must not be negative"},
		{"two patterns", func(c *Config) { c.Multiline = &Multiline{StartPattern: "a", ContinuationPattern: "b"} }, "exactly one of"},
		{"no pattern", func(c *Config) { c.Multiline = &Multiline{} }, "exactly one of"},
		{"bad pattern", func(c *Config) { c.Multiline = &Multiline{StartPattern: "("} }, `multiline pattern "("`},
	}
	for _, tc := range tests {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}
