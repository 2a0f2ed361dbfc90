package spool

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	crashChildEnv = "SLUICE_SPOOL_CRASH_CHILD" // spool directory
	crashSideEnv  = "SLUICE_SPOOL_CRASH_SIDE"  // file of acknowledged entry ids
	crashFirstEnv = "SLUICE_SPOOL_CRASH_FIRST" // first id to use
)

// crashChild appends from 4 goroutines and writes the id of every
// acknowledged append to the side file, until it is killed.
func crashChild() {
	s, err := Open(Config{Dir: os.Getenv(crashChildEnv), SegmentSize: 64 << 10, MaxSize: 1 << 30, Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	side, err := os.OpenFile(os.Getenv(crashSideEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		os.Exit(2)
	}
	first, _ := strconv.Atoi(os.Getenv(crashFirstEnv))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := first + w; ; i += 4 {
				if err := s.Append(context.Background(), entry(i)); err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(side, i) // after the ack: the parent may rely on it
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashKill9 kills a child appending to the spool with SIGKILL at
// random moments and checks that every acknowledged entry is there,
// intact, after each reopen.
func TestCrashKill9(t *testing.T) {
	dir := t.TempDir()
	spoolDir, side := filepath.Join(dir, "spool"), filepath.Join(dir, "acked")
	rng := rand.New(rand.NewPCG(3, 4))
	next := 0
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+spoolDir, crashSideEnv+"="+side, crashFirstEnv+"="+strconv.Itoa(next))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(150)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		next += 1 << 20 // fresh ids each round
		acked := readAcked(t, side)
		s := open(t, Config{Dir: spoolDir, SegmentSize: 64 << 10, MaxSize: 1 << 30})
		got := map[int]bool{}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			data, _, err := s.Next(ctx)
			cancel()
			if err != nil {
				break
			}
			var i int
			fmt.Sscanf(string(data), "entry-%d-", &i)
			if string(data) != string(entry(i)) {
				t.Fatalf("round %d: damaged entry %.30q", round, data)
			}
			got[i] = true
		}
		for _, id := range acked {
			if !got[id] {
				t.Fatalf("round %d: acknowledged entry %d missing after SIGKILL (%d acknowledged, %d read)", round, id, len(acked), len(got))
			}
		}
		s.Close() // nothing acked: every entry is read again next round
		if round == 19 {
			t.Logf("%d acknowledged entries over 20 SIGKILLs, all present", len(acked))
			if len(acked) == 0 {
				t.Fatal("the child acknowledged nothing: the test checked nothing")
			}
		}
	}
}

func readAcked(t *testing.T, path string) []int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	var ids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if id, err := strconv.Atoi(line); err == nil {
			ids = append(ids, id) // a torn last line fails to parse and is not counted
		}
	}
	return ids
}
