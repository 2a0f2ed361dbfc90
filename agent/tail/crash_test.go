package tail

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/source"
)

const crashChildEnv = "SLUICE_TAIL_CRASH_CHILD" // directory: logs/, state/, out

// crashChild tails dir/logs/*.log; its emitter appends each line to
// dir/out and fsyncs before acking, like a broker acknowledging.
func crashChild() {
	dir := os.Getenv(crashChildEnv)
	out, err := os.OpenFile(filepath.Join(dir, "out"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		os.Exit(2)
	}
	var mu sync.Mutex
	e := source.EmitterFunc(func(_ context.Context, recs []source.Record, ack func(error)) error {
		mu.Lock()
		defer mu.Unlock()
		w := bufio.NewWriter(out)
		for _, r := range recs {
			w.Write(r.Body)
			w.WriteByte('\n')
		}
		w.Flush()
		out.Sync()
		ack(nil)
		return nil
	})
	tl, err := New(Config{Include: []string{filepath.Join(dir, "logs", "app.log*")}, Topic: "logs",
		StateDir: filepath.Join(dir, "state"), StartAt: "beginning", ScanInterval: 5 * time.Millisecond, BatchLines: 100, Logger: quiet})
	if err != nil {
		os.Exit(2)
	}
	tl.Run(context.Background(), e)
}

// TestCrashKill9 writes lines to a log file (rotating it now and then)
// while a child process tails it and is killed with SIGKILL at random
// moments; after the last restart every line written is in the output.
func TestCrashKill9(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	log := filepath.Join(dir, "logs", "app.log")
	rng := rand.New(rand.NewPCG(5, 6))
	written, rotations := 0, 0
	startChild := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for range 12 {
		cmd := startChild()
		deadline := time.Now().Add(time.Duration(30+rng.IntN(120)) * time.Millisecond)
		for time.Now().Before(deadline) {
			appendLines(t, log, written, written+200)
			written += 200
			if rng.IntN(10) == 0 { // rename rotation now and then
				rotations++
				os.Rename(log, filepath.Join(dir, "logs", fmt.Sprintf("app.log.%d", rotations)))
			}
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	// A last run drains everything.
	cmd := startChild()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := readOut(t, filepath.Join(dir, "out"))
		missing := -1
		for i := range written {
			if !got[fmt.Sprintf("line-%05d", i)] {
				missing = i
				break
			}
		}
		if missing < 0 {
			t.Logf("%d lines written across 12 SIGKILLs and %d rotations, all delivered", written, rotations)
			return
		}
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir(filepath.Join(dir, "logs"))
			for _, e := range ents {
				b, _ := os.ReadFile(filepath.Join(dir, "logs", e.Name()))
				first := ""
				if len(b) > 10 {
					first = string(b[:10])
				}
				t.Logf("%s: %d bytes, starts %q, holds line %d: %v", e.Name(), len(b), first, missing, strings.Contains(string(b), fmt.Sprintf("line-%05d", missing)))
			}
			st, _ := os.ReadFile(filepath.Join(dir, "state", stateFile))
			t.Logf("state: %s", st)
			t.Fatalf("line %d of %d never delivered", missing, written)
		}
	}
}

func readOut(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	got := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		got[sc.Text()] = true
	}
	return got
}
