package tail

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/source"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// collector is an Emitter that keeps what it gets and acks at once
// (unless noAck).
type collector struct {
	mu    sync.Mutex
	recs  []source.Record
	noAck bool
}

func (c *collector) Emit(_ context.Context, recs []source.Record, ack func(error)) error {
	c.mu.Lock()
	c.recs = append(c.recs, recs...)
	c.mu.Unlock()
	if ack != nil && !c.noAck {
		ack(nil)
	}
	return nil
}

func (c *collector) bodies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.recs))
	for i, r := range c.recs {
		out[i] = string(r.Body)
	}
	return out
}

// running is a Tailer started in a goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, e source.Emitter) *running {
	t.Helper()
	cfg.Logger = quiet
	if cfg.ScanInterval == 0 {
		cfg.ScanInterval = 10 * time.Millisecond
	}
	tl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- tl.Run(ctx, e) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Errorf("tailer: %v", err)
	}
}

func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line-%05d\n", i)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

func waitLines(t *testing.T, c *collector, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(c.bodies()) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("got %d lines, want %d: %v", len(c.bodies()), n, tailOf(c.bodies()))
		}
	}
}

func tailOf(s []string) []string {
	if len(s) > 5 {
		return s[len(s)-5:]
	}
	return s
}

// checkSequence checks that got is exactly line-0 .. line-(n-1) in order.
func checkSequence(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d lines, want %d (last: %v)", len(got), n, tailOf(got))
	}
	for i, g := range got {
		if want := fmt.Sprintf("line-%05d", i); g != want {
			t.Fatalf("line %d is %q, want %q", i, g, want)
		}
	}
}

func TestStartAtEndAndBeginning(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	appendLines(t, log, 0, 10)
	for _, c := range []struct {
		startAt string
		want    int
	}{{"end", 5}, {"beginning", 15}} {
		var col collector
		r := start(t, Config{Include: []string{filepath.Join(dir, "*.log")}, Topic: "logs", StateDir: t.TempDir(), StartAt: c.startAt}, &col)
		time.Sleep(50 * time.Millisecond)
		appendLines(t, log, 10, 15)
		waitLines(t, &col, c.want)
		r.stop(t)
		if got := len(col.bodies()); got != c.want {
			t.Fatalf("start_at %s: %d lines, want %d", c.startAt, got, c.want)
		}
		os.Truncate(log, 0)
		appendLines(t, log, 0, 10)
	}
}

func TestRecordProperties(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	appendLines(t, log, 0, 2)
	var col collector
	start(t, Config{Name: "app", Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning",
		Host: "h1", Fields: map[string]string{"env": "prod"}}, &col)
	waitLines(t, &col, 2)
	col.mu.Lock()
	r := col.recs[1]
	col.mu.Unlock()
	if r.Topic != "logs" || r.Key != "h1/"+log || r.Prop("host") != "h1" || r.Prop("file") != log ||
		r.Prop("offset") != "11" || r.Prop("source") != "app" || r.Prop("env") != "prod" {
		t.Fatalf("record %+v", r)
	}
}

// TestRotationMatrix rotates a file in every common way while lines are
// written, restarts the tailer in the middle, and checks that every line
// arrives once, in order.
func TestRotationMatrix(t *testing.T) {
	rotations := map[string]func(t *testing.T, dir, log string){
		"rename_create": func(t *testing.T, dir, log string) {
			if err := os.Rename(log, log+".1"); err != nil {
				t.Fatal(err)
			}
		},
		"copytruncate": func(t *testing.T, dir, log string) {
			b, _ := os.ReadFile(log)
			os.WriteFile(filepath.Join(dir, "copy.old"), b, 0o644)
			if err := os.Truncate(log, 0); err != nil {
				t.Fatal(err)
			}
		},
		"truncate_in_place": func(t *testing.T, dir, log string) {
			if err := os.Truncate(log, 0); err != nil {
				t.Fatal(err)
			}
		},
		"delete_create": func(t *testing.T, dir, log string) {
			if err := os.Remove(log); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, rotate := range rotations {
		t.Run(name, func(t *testing.T) {
			dir, state := t.TempDir(), t.TempDir()
			log := filepath.Join(dir, "app.log")
			cfg := Config{Include: []string{log}, Topic: "logs", StateDir: state, StartAt: "beginning"}
			var col collector
			r := start(t, cfg, &col)
			appendLines(t, log, 0, 100)
			waitLines(t, &col, 100)
			rotate(t, dir, log)
			time.Sleep(30 * time.Millisecond) // let a scan see the rotation
			appendLines(t, log, 100, 200)
			waitLines(t, &col, 200)
			r.stop(t)
			appendLines(t, log, 200, 300) // written while the agent is down
			start(t, cfg, &col)
			waitLines(t, &col, 300)
			time.Sleep(50 * time.Millisecond) // nothing more may come
			checkSequence(t, col.bodies(), 300)
		})
	}
}

func TestSymlinkedFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real", "app.log")
	os.MkdirAll(filepath.Dir(target), 0o755)
	appendLines(t, target, 0, 10)
	link := filepath.Join(dir, "app.log")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	var col collector
	start(t, Config{Include: []string{filepath.Join(dir, "*.log")}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning"}, &col)
	waitLines(t, &col, 10)
	appendLines(t, target, 10, 20)
	waitLines(t, &col, 20)
	// The link moves to a new target: a new file, read from its start.
	target2 := filepath.Join(dir, "real", "app2.log")
	appendLines(t, target2, 20, 30)
	os.Remove(link)
	os.Symlink(target2, link)
	waitLines(t, &col, 30)
	time.Sleep(30 * time.Millisecond)
	checkSequence(t, col.bodies(), 30)
}

func TestInodeReuseIsANewFile(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, 0, 50)
	cfg := Config{Include: []string{log}, Topic: "logs", StateDir: state, StartAt: "beginning"}
	var col collector
	r := start(t, cfg, &col)
	waitLines(t, &col, 50)
	r.stop(t)
	// Replace the file while the agent is down; the file system may give
	// the new file the old inode, but its first bytes differ.
	os.Remove(log)
	f, _ := os.Create(log)
	fmt.Fprintf(f, "other-%05d\n", 0)
	f.Close()
	var col2 collector
	start(t, cfg, &col2)
	waitLines(t, &col2, 1)
	if got := col2.bodies(); got[0] != "other-00000" {
		t.Fatalf("the new file was read from %q, want its first line", got[0])
	}
}

func TestCheckpointOnlyAfterAck(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, 0, 20)
	cfg := Config{Include: []string{log}, Topic: "logs", StateDir: state, StartAt: "beginning"}
	unacked := &collector{noAck: true}
	r := start(t, cfg, unacked)
	waitLines(t, unacked, 20)
	r.stop(t)
	var col collector
	start(t, cfg, &col) // nothing was acknowledged: everything again
	waitLines(t, &col, 20)
	checkSequence(t, col.bodies(), 20)
}

func TestLongLinesAreSplit(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	os.WriteFile(log, []byte(strings.Repeat("x", 250)+"\nshort\n"), 0o644)
	var col collector
	start(t, Config{Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning", MaxLineBytes: 100}, &col)
	waitLines(t, &col, 4)
	got := col.bodies()
	if len(got[0]) != 100 || len(got[1]) != 100 || len(got[2]) != 50 || got[3] != "short" {
		t.Fatalf("pieces %d %d %d %q", len(got[0]), len(got[1]), len(got[2]), got[3])
	}
}

func TestExcludeAndNewFiles(t *testing.T) {
	dir := t.TempDir()
	var col collector
	start(t, Config{Include: []string{filepath.Join(dir, "*.log")}, Exclude: []string{"*.debug.log"}, Topic: "logs",
		StateDir: t.TempDir()}, &col)
	time.Sleep(30 * time.Millisecond)
	appendLines(t, filepath.Join(dir, "x.debug.log"), 0, 5)
	appendLines(t, filepath.Join(dir, "new.log"), 0, 3) // appeared after start: read from its beginning
	waitLines(t, &col, 3)
	time.Sleep(50 * time.Millisecond)
	checkSequence(t, col.bodies(), 3)
}

func TestStateDecode(t *testing.T) {
	for _, bad := range []string{"", "{", `{"version":2}`, `{"version":1,"files":[{"offset":-1}]}`} {
		if _, err := decodeState([]byte(bad)); err == nil {
			t.Errorf("decodeState(%q) succeeded", bad)
		}
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"files":[{"dev":1,"ino":2,"fp_len":10,"fp_hash":3,"path":"/a","offset":5}]}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cps, err := decodeState(b)
		if err != nil {
			return
		}
		for _, c := range cps {
			if c.Offset < 0 || c.FPLen > fingerprintBytes {
				t.Fatalf("accepted %+v", c)
			}
		}
	})
}
