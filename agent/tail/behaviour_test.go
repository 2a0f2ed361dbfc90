package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/source"
)

func TestLongLinesAreTruncated(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	// One long line complete in a read, one whose end comes in a later
	// write (so it is cut while still unterminated), then short lines.
	os.WriteFile(log, []byte(strings.Repeat("x", 250)+"\nshort\n"+strings.Repeat("y", 150)), 0o644)
	set := metrics.NewSet()
	var col collector
	start(t, Config{Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning",
		MaxLineBytes: 100, TruncateLongLines: true, Metrics: set}, &col)
	waitLines(t, &col, 3)
	appendRaw(t, log, strings.Repeat("y", 50)+"\nafter\n")
	waitLines(t, &col, 4)
	time.Sleep(30 * time.Millisecond)
	got := col.bodies()
	want := []string{strings.Repeat("x", 100), "short", strings.Repeat("y", 100), "after"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines %q, want %q", got, want)
	}
	if n := set.GetOrCreateCounter(`sluice_agent_file_lines_truncated_total{source="file"}`).Get(); n != 2 {
		t.Fatalf("truncated counter %d, want 2", n)
	}
}

// TestUnterminatedLongLineIsSplit: a line with no newline in sight is
// emitted in MaxLineBytes pieces, so memory stays bounded, and the rest
// follows when its newline comes.
func TestUnterminatedLongLineIsSplit(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	os.WriteFile(log, []byte(strings.Repeat("z", 230)), 0o644)
	var col collector
	start(t, Config{Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning", MaxLineBytes: 100}, &col)
	waitLines(t, &col, 2)
	time.Sleep(30 * time.Millisecond)
	if n := len(col.bodies()); n != 2 {
		t.Fatalf("%d pieces before the newline, want 2", n)
	}
	appendRaw(t, log, "\n")
	waitLines(t, &col, 3)
	if got := col.bodies()[2]; got != strings.Repeat("z", 30) {
		t.Fatalf("last piece %q", got)
	}
}

// TestIdleFileClosedAndReopened: a quiet file releases its descriptor and
// is read on when it grows.
func TestIdleFileClosedAndReopened(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, log, 0, 5)
	set := metrics.NewSet()
	var col collector
	start(t, Config{Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning",
		IdleTimeout: 30 * time.Millisecond, Metrics: set}, &col)
	waitLines(t, &col, 5)
	open := func() int64 { return int64(set.GetOrCreateGauge(`sluice_agent_files_open{source="file"}`, nil).Get()) }
	for deadline := time.Now().Add(5 * time.Second); open() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("idle file still open: files_open %d", open())
		}
	}
	appendLines(t, log, 5, 10)
	waitLines(t, &col, 10)
	checkSequence(t, col.bodies(), 10)
}

// heldAcks is an Emitter that keeps the acks of the batches it takes
// until release, which calls them in reverse order.
type heldAcks struct {
	collector
	acks []func(error)
}

func (h *heldAcks) Emit(ctx context.Context, recs []source.Record, ack func(error)) error {
	h.mu.Lock()
	h.recs = append(h.recs, recs...)
	h.acks = append(h.acks, ack)
	h.mu.Unlock()
	return nil
}

func (h *heldAcks) release(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := n - 1; i >= 0; i-- {
		h.acks[i](nil)
	}
	h.acks = h.acks[n:]
}

// TestAcksOutOfOrder: the checkpoint advances only over the delivered
// prefix of a file, whatever order the acks come in.
func TestAcksOutOfOrder(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	state := t.TempDir()
	cfg := Config{Include: []string{log}, Topic: "logs", StateDir: state, StartAt: "beginning", BatchLines: 10}
	appendLines(t, log, 0, 30)
	h := &heldAcks{}
	r := start(t, cfg, h)
	waitLines(t, &h.collector, 30)
	// Only the third batch acked: nothing is delivered from the start.
	h.mu.Lock()
	third := h.acks[2]
	h.acks = append(h.acks[:2], h.acks[3:]...)
	h.mu.Unlock()
	third(nil)
	if off := checkpointAfterSave(t, r, cfg, h); off != 0 {
		t.Fatalf("checkpoint %d with the first batches unacked", off)
	}
	h.release(2) // the first two, second first
	r.stop(t)
	if off := savedOffset(t, state); off != 30*11 {
		t.Fatalf("checkpoint %d after every ack, want %d", off, 30*11)
	}
}

// checkpointAfterSave waits for the tailer's periodic save and returns
// the offset saved.
func checkpointAfterSave(t *testing.T, r *running, cfg Config, h *heldAcks) int64 {
	t.Helper()
	time.Sleep(1200 * time.Millisecond) // saves are at most a second apart
	return savedOffset(t, cfg.StateDir)
}

func savedOffset(t *testing.T, dir string) int64 {
	t.Helper()
	cps, err := loadState(dir)
	if err != nil || len(cps) != 1 {
		t.Fatalf("state: %v, %d entries", err, len(cps))
	}
	return cps[0].Offset
}

// TestStatePruned: the checkpoint of a file that was deleted and drained
// leaves the state, so the state holds only files being followed.
func TestStatePruned(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	for i := range 5 {
		appendLines(t, filepath.Join(dir, fmt.Sprintf("f%d.log", i)), 0, 3)
	}
	cfg := Config{Include: []string{filepath.Join(dir, "*.log")}, Topic: "logs", StateDir: state, StartAt: "beginning"}
	var col collector
	r := start(t, cfg, &col)
	waitLines(t, &col, 15)
	for i := range 4 {
		os.Remove(filepath.Join(dir, fmt.Sprintf("f%d.log", i)))
	}
	time.Sleep(100 * time.Millisecond)
	r.stop(t)
	cps, err := loadState(state)
	if err != nil || len(cps) != 1 || filepath.Base(cps[0].Path) != "f4.log" {
		t.Fatalf("state after deletes: %v %+v", err, cps)
	}
}

// TestManyFilesRoundRobin: lines of many files all arrive, each file's in
// order, with one read buffer shared by all.
func TestManyFilesRoundRobin(t *testing.T) {
	dir := t.TempDir()
	const files, lines = 50, 200
	for i := range files {
		appendLines(t, filepath.Join(dir, fmt.Sprintf("f%02d.log", i)), 0, lines)
	}
	var col collector
	start(t, Config{Include: []string{filepath.Join(dir, "*.log")}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning"}, &col)
	waitLines(t, &col, files*lines)
	col.mu.Lock()
	defer col.mu.Unlock()
	per := map[string][]string{}
	for _, r := range col.recs {
		per[r.Prop("file")] = append(per[r.Prop("file")], string(r.Body))
	}
	if len(per) != files {
		t.Fatalf("%d files, want %d", len(per), files)
	}
	for f, got := range per {
		t.Run(filepath.Base(f), func(t *testing.T) { checkSequence(t, got, lines) })
	}
}

// TestRewrittenBetweenScans: a file truncated and written past its old
// offset before the next scan is told by its first bytes and read again
// from its start.
func TestRewrittenBetweenScans(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, log, 0, 10)
	var col collector
	start(t, Config{Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning",
		ScanInterval: 300 * time.Millisecond}, &col)
	waitLines(t, &col, 10)
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "other-%04d\n", i)
	}
	if err := os.WriteFile(log, []byte(b.String()), 0o644); err != nil { // O_TRUNC: same inode
		t.Fatal(err)
	}
	waitLines(t, &col, 30)
	if got := col.bodies(); got[10] != "other-0000" || got[29] != "other-0019" {
		t.Fatalf("after the rewrite: %q ... %q", got[10], got[29])
	}
}

// TestCheckpointsOfMissingFilesForgotten: checkpoints of files not found
// at start are kept until ForgetAfter has passed since they were last
// followed, then dropped.
func TestCheckpointsOfMissingFilesForgotten(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	now := time.Now().Unix()
	must(t, saveState(state, []checkpoint{
		{Dev: 1, Ino: 1, Path: filepath.Join(dir, "old.log"), Offset: 10, Seen: now - 7200},
		{Dev: 1, Ino: 2, Path: filepath.Join(dir, "recent.log"), Offset: 10, Seen: now - 60},
	}))
	var col collector
	r := start(t, Config{Include: []string{filepath.Join(dir, "*.log")}, Topic: "logs", StateDir: state, ForgetAfter: time.Hour}, &col)
	time.Sleep(50 * time.Millisecond)
	r.stop(t)
	cps, err := loadState(state)
	if err != nil || len(cps) != 1 || filepath.Base(cps[0].Path) != "recent.log" || cps[0].Seen != now-60 {
		t.Fatalf("state: %v %+v, want only recent.log, as it was", err, cps)
	}
}

// TestBlockedEmitStopsCleanly: Run stopped while Emit blocks under
// back-pressure returns nil, and the lines it could not hand over are
// read again by the next run.
func TestBlockedEmitStopsCleanly(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	state := t.TempDir()
	appendLines(t, log, 0, 10)
	cfg := Config{Include: []string{log}, Topic: "logs", StateDir: state, StartAt: "beginning"}
	blocked := make(chan struct{}, 1)
	r := start(t, cfg, source.EmitterFunc(func(ctx context.Context, _ []source.Record, _ func(error)) error {
		select {
		case blocked <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}))
	<-blocked
	r.stop(t) // fails the test if Run returns an error
	var col collector
	start(t, cfg, &col)
	waitLines(t, &col, 10)
	checkSequence(t, col.bodies(), 10)
}

func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, 0, 10)
	set := metrics.NewSet()
	var col collector
	r := start(t, Config{Name: "app", Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning", Metrics: set}, &col)
	waitLines(t, &col, 10)
	must(t, os.Rename(log, log+".1"))
	appendLines(t, log, 10, 15)
	waitLines(t, &col, 15)
	var b strings.Builder
	set.WritePrometheus(&b)
	text := b.String()
	for _, want := range []string{
		`sluice_agent_file_lines_total{source="app"} 15`,
		`sluice_agent_file_bytes_total{source="app"} 165`,
		`sluice_agent_file_rotations_total{source="app"} 1`,
		`sluice_agent_file_bytes_behind{source="app",file="` + log + `"`,
		`sluice_agent_files_open{source="app"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s:\n%s", want, text)
		}
	}
	r.stop(t)
	b.Reset()
	set.WritePrometheus(&b)
	if strings.Contains(b.String(), "bytes_behind") || strings.Contains(b.String(), "files_open") {
		t.Errorf("per-file gauges left after Run returned:\n%s", b.String())
	}
}

// TestUnterminatedLastLine waits for its newline while the file is in
// place, and is emitted as is once the file was rotated away and read to
// its end.
func TestUnterminatedLastLine(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	must(t, os.WriteFile(log, []byte("a\r\nhalf"), 0o644))
	var col collector
	start(t, Config{Include: []string{log}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning"}, &col)
	waitLines(t, &col, 1)
	time.Sleep(50 * time.Millisecond)
	if got := col.bodies(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("before the rotation: %q", got)
	}
	must(t, os.Rename(log, log+".1"))
	waitLines(t, &col, 2)
	if got := col.bodies()[1]; got != "half" {
		t.Fatalf("last line %q", got)
	}
}

// TestScansGoOnWhileBehind: while a big file is being read under
// back-pressure, scans go on, so a new file is picked up before the big
// file is finished.
func TestScansGoOnWhileBehind(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "a.log")
	f, err := os.Create(big)
	must(t, err)
	line := strings.Repeat("x", 199) + "\n"
	for range 4000 { // about three read chunks
		f.WriteString(line)
	}
	must(t, f.Close())
	var col collector
	slow := source.EmitterFunc(func(ctx context.Context, recs []source.Record, ack func(error)) error {
		time.Sleep(20 * time.Millisecond)
		return col.Emit(ctx, recs, ack)
	})
	start(t, Config{Include: []string{filepath.Join(dir, "*.log")}, Topic: "logs", StateDir: t.TempDir(), StartAt: "beginning",
		BatchLines: 100, ScanInterval: 50 * time.Millisecond}, slow)
	waitLines(t, &col, 1)
	appendRaw(t, filepath.Join(dir, "b.log"), "new\n")
	waitLines(t, &col, 4001)
	got := col.bodies()
	at := slices.Index(got, "new")
	if at < 0 || at == len(got)-1 {
		t.Fatalf("the new file's line came at %d of %d: after the big file was done", at, len(got))
	}
}

// TestRotatedWhileDownNeedsItsFingerprint: a checkpoint's inode, found
// next to its old path but now holding another file, is not that file.
func TestRotatedWhileDownNeedsItsFingerprint(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	other := filepath.Join(dir, "other.txt")
	appendLines(t, other, 0, 5)
	fi, err := os.Stat(other)
	must(t, err)
	id, _ := idOf(fi)
	must(t, saveState(state, []checkpoint{{Dev: id.dev, Ino: id.ino, FPLen: 11, FPHash: 12345,
		Path: filepath.Join(dir, "app.log"), Offset: 0, Seen: time.Now().Unix()}}))
	var col collector
	r := start(t, Config{Include: []string{filepath.Join(dir, "*.log")}, Topic: "logs", StateDir: state}, &col)
	time.Sleep(100 * time.Millisecond)
	r.stop(t)
	if got := col.bodies(); len(got) != 0 {
		t.Fatalf("read another file as the rotated one: %q", got)
	}
}

// TestTruncatedWhileDown: a file with a checkpoint that shrank below it
// while the agent was down is read from its start, even with StartAt end.
func TestTruncatedWhileDown(t *testing.T) {
	log := filepath.Join(t.TempDir(), "app.log")
	state := t.TempDir()
	appendLines(t, log, 100, 120)
	cfg := Config{Include: []string{log}, Topic: "logs", StateDir: state}
	var col collector
	r := start(t, cfg, &col)
	time.Sleep(50 * time.Millisecond)
	appendLines(t, log, 120, 125)
	waitLines(t, &col, 5)
	r.stop(t)
	must(t, os.Truncate(log, 0))
	appendLines(t, log, 0, 3)
	var col2 collector
	start(t, cfg, &col2)
	waitLines(t, &col2, 3)
	checkSequence(t, col2.bodies(), 3)
}
