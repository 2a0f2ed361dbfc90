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
	crashSideEnv  = "SLUICE_SPOOL_CRASH_SIDE"  // file of acknowledged appends' ids
	crashReadEnv  = "SLUICE_SPOOL_CRASH_READ"  // file of ids the child's reader consumed
	crashFirstEnv = "SLUICE_SPOOL_CRASH_FIRST" // first id to use
)

func crashConfig(dir string) Config {
	return Config{Dir: dir, SegmentSize: 16 << 10, MaxSize: 1 << 30, CheckpointInterval: 5 * time.Millisecond, Logger: quiet}
}

// crashChild appends from 4 goroutines, writing the id of every
// acknowledged append to the side file, while a reader consumes and
// acknowledges records (so checkpoints and segment deletions happen too),
// until it is killed.
func crashChild() {
	s, err := Open(crashConfig(os.Getenv(crashChildEnv)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	side, err1 := os.OpenFile(os.Getenv(crashSideEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	read, err2 := os.OpenFile(os.Getenv(crashReadEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err1 != nil || err2 != nil {
		os.Exit(2)
	}
	first, _ := strconv.Atoi(os.Getenv(crashFirstEnv))
	var mu sync.Mutex
	for w := range 4 {
		go func() {
			for i := first + w; ; i += 4 {
				if err := s.Append(context.Background(), entry(i)); err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(side, i) // one write(2), after the ack
				mu.Unlock()
			}
		}()
	}
	for {
		e, err := s.NextEntry(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "child next:", err)
			os.Exit(2)
		}
		var i int
		fmtSscan(e.Data, &i)
		fmt.Fprintln(read, i) // before the ack: an id missing later must be here
		if err := s.Ack(e); err != nil {
			fmt.Fprintln(os.Stderr, "child ack:", err)
			os.Exit(2)
		}
		time.Sleep(50 * time.Microsecond) // read slower than the appenders write
	}
}

// TestCrashKill9 kills a child appending to and reading from the spool
// with SIGKILL at random moments, then checks that every acknowledged
// append is there, intact and in order per appender, unless the child's
// reader consumed it.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs child processes")
	}
	dir := t.TempDir()
	spoolDir, side, readSide := filepath.Join(dir, "spool"), filepath.Join(dir, "acked"), filepath.Join(dir, "read")
	rng := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
	next, replayed := 0, 0
	const rounds = 15
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+spoolDir, crashSideEnv+"="+side,
			crashReadEnv+"="+readSide, crashFirstEnv+"="+strconv.Itoa(next))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended on its own, not by SIGKILL", round)
		}
		next += 1 << 20 // fresh ids each round
		acked, consumed := readIDs(t, side), readIDs(t, readSide)
		s := open(t, crashConfig(spoolDir))
		got := map[int]bool{}
		lastOf := map[int]int{} // per appender: ids rise
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			e, err := s.NextEntry(ctx)
			cancel()
			if err != nil {
				break
			}
			var i int
			fmtSscan(e.Data, &i)
			if string(e.Data) != string(entry(i)) {
				t.Fatalf("round %d: damaged record %.30q", round, e.Data)
			}
			w := i % 4
			if prev, ok := lastOf[w]; ok && i <= prev {
				t.Fatalf("round %d: appender %d's record %d after %d", round, w, i, prev)
			}
			lastOf[w], got[i] = i, true
		}
		if s.m.corrupt.Get() != 0 {
			t.Fatalf("round %d: %d corrupt records after SIGKILL (torn tails are cut, not corrupt)", round, s.m.corrupt.Get())
		}
		for id := range acked {
			if !got[id] && !consumed[id] {
				t.Fatalf("round %d: acknowledged record %d neither in the spool nor consumed (%d acknowledged, %d in the spool)",
					round, id, len(acked), len(got))
			}
		}
		replayed += len(got)
		s.Close() // nothing acknowledged here: the child's reader goes on next round
		if round == rounds-1 {
			t.Logf("%d acknowledged appends, %d consumed by the child, %d replayed over %d SIGKILLs: none lost",
				len(acked), len(consumed), replayed, rounds)
			if len(acked) == 0 || len(consumed) == 0 {
				t.Fatal("the child appended or consumed nothing: the test checked nothing")
			}
		}
	}
}

func readIDs(t *testing.T, path string) map[int]bool {
	t.Helper()
	ids := map[int]bool{}
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return ids
		}
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
			ids[id] = true // a torn last line fails to parse and is not counted
		}
	}
	return ids
}
