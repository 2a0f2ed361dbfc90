package tail

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/source"
)

// slowAcker is an Emitter that acks each batch from its own goroutine
// after a random delay, so acks arrive late and out of order. wait stops
// the goroutines it started.
type slowAcker struct {
	collector
	rng *rand.Rand
	wg  sync.WaitGroup
}

func (s *slowAcker) Emit(_ context.Context, recs []source.Record, ack func(error)) error {
	s.mu.Lock()
	s.recs = append(s.recs, recs...)
	d := time.Duration(s.rng.IntN(30)) * time.Millisecond
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		time.Sleep(d)
		ack(nil)
	}()
	return nil
}

// TestRotationMatrixSlowAcks rotates while acks come late and out of
// order and the tailer is restarted with acks still in flight: every
// line arrives, in order of first arrival, and what is read twice is at
// most one batch re-read from the checkpoint.
func TestRotationMatrixSlowAcks(t *testing.T) {
	rotations := map[string]func(t *testing.T, log string){
		"rename_create":     func(t *testing.T, log string) { must(t, os.Rename(log, log+".1")) },
		"copytruncate":      func(t *testing.T, log string) { must(t, os.Truncate(log, 0)) },
		"delete_create":     func(t *testing.T, log string) { must(t, os.Remove(log)) },
		"truncate_in_place": func(t *testing.T, log string) { must(t, os.Truncate(log, 0)) },
	}
	const batch = 20
	for name, rotate := range rotations {
		t.Run(name, func(t *testing.T) {
			dir, state := t.TempDir(), t.TempDir()
			log := filepath.Join(dir, "app.log")
			cfg := Config{Include: []string{log}, Topic: "logs", StateDir: state, StartAt: "beginning", BatchLines: batch}
			col := &slowAcker{rng: rand.New(rand.NewPCG(1, 2))}
			defer col.wg.Wait()
			written := 0
			for range 3 {
				r := start(t, cfg, col)
				for range 3 {
					appendLines(t, log, written, written+50)
					written += 50
					waitDistinct(t, &col.collector, written)
					rotate(t, log)
					time.Sleep(30 * time.Millisecond) // a scan sees the rotation
				}
				appendLines(t, log, written, written+7)
				written += 7
				waitDistinct(t, &col.collector, written)
				r.stop(t) // acks may still be in flight: their lines come again
			}
			col.wg.Wait()
			checkAtLeastOnce(t, col.bodies(), written, 3*batch)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitDistinct(t *testing.T, c *collector, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		seen := map[string]bool{}
		for _, b := range c.bodies() {
			seen[b] = true
		}
		if len(seen) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d distinct lines, want %d", len(seen), n)
		}
	}
}

// checkAtLeastOnce checks that got holds line-0 .. line-(n-1), first
// arrivals in order, with at most maxDup repeats in all (each restart may
// re-read what was read but not acknowledged).
func checkAtLeastOnce(t *testing.T, got []string, n, maxDup int) {
	t.Helper()
	next, dups := 0, 0
	for i, g := range got {
		if g == fmt.Sprintf("line-%05d", next) {
			next++
			continue
		}
		var k int
		if _, err := fmt.Sscanf(g, "line-%05d", &k); err != nil || k > next {
			t.Fatalf("line %d is %q, want line-%05d or a repeat", i, g, next)
		}
		dups++
	}
	if next != n {
		t.Fatalf("got lines up to %d, want %d", next, n)
	}
	if dups > maxDup {
		t.Fatalf("%d repeated lines, want at most %d (one batch per restart)", dups, maxDup)
	}
	t.Logf("%d lines, %d repeated after restarts", n, dups)
}

// TestSymlinkRotationAndRestart: a file followed through a symlink is
// known by its target, so its checkpoint holds across a restart, and a
// rename rotation of the target is drained before the new target.
func TestSymlinkRotationAndRestart(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	real := filepath.Join(dir, "real")
	must(t, os.MkdirAll(real, 0o755))
	target := filepath.Join(real, "app.log")
	link := filepath.Join(dir, "app.log")
	appendLines(t, target, 0, 50)
	must(t, os.Symlink(target, link))
	cfg := Config{Include: []string{link}, Topic: "logs", StateDir: state, StartAt: "beginning"}
	var col collector
	r := start(t, cfg, &col)
	waitLines(t, &col, 50)
	r.stop(t)
	appendLines(t, target, 50, 100) // while down
	r = start(t, cfg, &col)
	waitLines(t, &col, 100)
	must(t, os.Rename(target, target+".1")) // the link dangles until the new target exists
	appendLines(t, target+".1", 100, 110)
	time.Sleep(30 * time.Millisecond)
	appendLines(t, target, 110, 150)
	waitLines(t, &col, 150)
	r.stop(t)
	time.Sleep(30 * time.Millisecond)
	checkSequence(t, col.bodies(), 150)
	if got := col.recs[0].Prop("file"); got != link {
		t.Fatalf("file property %q, want the path matched, %q", got, link)
	}
}
