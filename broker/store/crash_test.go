package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	crashChildEnv  = "SLUICE_STORE_CRASH_CHILD" // store directory
	crashSideEnv   = "SLUICE_STORE_CRASH_SIDE"  // file of acknowledged batch ids
	crashFirstEnv  = "SLUICE_STORE_CRASH_FIRST" // first batch id to use
	crashQueues    = 4
	crashAppenders = 8
)

func crashConfig(dir string) Config {
	return Config{
		Dir:                 dir,
		SegmentSize:         1 << 20,
		CheckpointInterval:  50 * time.Millisecond,
		MaintenanceInterval: 10 * time.Millisecond,
		DiskFullRatio:       1,
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// crashChild appends in sync mode from several goroutines and writes the id
// of every acknowledged batch to the side file, until it is killed.
func crashChild() {
	s, err := Open(crashConfig(os.Getenv(crashChildEnv)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	side, err := os.OpenFile(os.Getenv(crashSideEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child side file:", err)
		os.Exit(2)
	}
	first, _ := strconv.ParseUint(os.Getenv(crashFirstEnv), 10, 64)
	var next atomic.Uint64
	next.Store(first)
	var mu sync.Mutex
	for range crashAppenders {
		go func() {
			for {
				id := next.Add(1)
				b := testBatch("crash", uint32(id%crashQueues), id, uint32(1+id%5), 100+int(id%3000))
				if _, err := s.Append(context.Background(), b); err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(3)
				}
				mu.Lock()
				// One write(2) per id: a kill leaves a line whole or absent.
				side.WriteString(strconv.FormatUint(id, 10) + "\n")
				mu.Unlock()
			}
		}()
	}
	time.Sleep(30 * time.Second) // the parent kills us long before
	os.Exit(4)
}

func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs child processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	storeDir, side := filepath.Join(dir, "store"), filepath.Join(dir, "acked")
	rounds := 24
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	totalAcked := 0
	for round := range rounds {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+storeDir, crashSideEnv+"="+side,
			crashFirstEnv+"="+strconv.Itoa((round+1)*10_000_000))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended on its own (%v), not by SIGKILL", round, err)
		}
		acked := readAcked(t, side)
		s := mustOpen(t, crashConfig(storeDir))
		seen := map[uint64]bool{}
		for q := range uint32(crashQueues) {
			ids, corrupt := readAll(t, s, "crash", q) // readAll checks each payload is intact
			if len(corrupt) > 0 {
				t.Fatalf("round %d: corrupt batches after kill -9: %v", round, corrupt[0])
			}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("round %d: batch %d stored twice", round, id)
				}
				if uint32(id%crashQueues) != q {
					t.Fatalf("round %d: batch %d in queue %d", round, id, q)
				}
				seen[id] = true
			}
		}
		for _, id := range acked {
			if !seen[id] {
				t.Fatalf("round %d: acknowledged batch %d lost (%d acknowledged so far)", round, id, len(acked))
			}
		}
		totalAcked = len(acked)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if totalAcked < rounds*10 {
		t.Fatalf("only %d batches acknowledged over %d rounds: the child hardly ran", totalAcked, rounds)
	}
	t.Logf("%d rounds, %d acknowledged batches, all present and intact", rounds, totalAcked)
}

func readAcked(t *testing.T, path string) []uint64 {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, err := strconv.ParseUint(sc.Text(), 10, 64)
		if err != nil {
			t.Fatalf("side file line %q: %v", sc.Text(), err)
		}
		ids = append(ids, id)
	}
	return ids
}
