package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
)

// The agent's spool over the built binaries: a broker process and an
// agent process tailing files that a writer keeps growing; the broker is
// stopped for a while and comes back. Each test checks the agent's own
// /metrics and every line at the broker, per file.

// tailBatchLines is the file source's default batch size in lines
// (agent/tail DefaultBatchLines): one spool entry holds at most that many.
const tailBatchLines = 1000

// agentProcess is a `sluice agent` process with its HTTP address.
type agentProcess struct {
	*proc
	http, cfg string
}

// startAgentProcess writes yaml (an agent: section, where AGENT_HTTP
// stands for the agent's HTTP address) to dir/agent.yaml and runs
// `sluice agent` on it until its sources run.
func startAgentProcess(t *testing.T, dir, yaml string) *agentProcess {
	t.Helper()
	httpAddr := freeAddr(t)
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(yaml, "AGENT_HTTP", httpAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &agentProcess{proc: start(t, "agent", nil, "agent", "-c", cfg), http: httpAddr, cfg: cfg}
	waitFor(t, 20*time.Second, "the agent to run its sources", func() bool {
		select {
		case <-a.done:
			t.Fatalf("agent exited at start: %v\n%s", a.err, tail(a.errb.String(), 3000))
		default:
		}
		return strings.Contains(a.errb.String(), "agent running")
	})
	return a
}

// metric returns the value of the series named exactly series on the
// agent's /metrics, 0 when absent.
func (a *agentProcess) metric(t *testing.T, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(httpGet(t, "http://"+a.http+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("agent /metrics: %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// fileWriter appends numbered lines to n files at a steady rate, as
// applications write logs, until stopped.
type fileWriter struct {
	paths   []string
	mu      sync.Mutex
	written []int // lines per file
	err     error
	stopped chan struct{}
	done    chan struct{}
}

// startFileWriter writes perTick lines to each of n files in dir every
// 10ms; it is stopped at the end of the test at the latest.
func startFileWriter(t *testing.T, dir string, n, perTick int) *fileWriter {
	w := &fileWriter{written: make([]int, n), stopped: make(chan struct{}), done: make(chan struct{})}
	for i := range n {
		w.paths = append(w.paths, filepath.Join(dir, fmt.Sprintf("app-%d.log", i)))
	}
	go w.run(perTick)
	t.Cleanup(func() { w.stop() })
	return w
}

// pad makes lines about 100 bytes long, as typical log lines.
var pad = strings.Repeat("x", 80)

func (w *fileWriter) run(perTick int) {
	defer close(w.done)
	files := make([]*bufio.Writer, len(w.paths))
	for i, p := range w.paths {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			w.fail(err)
			return
		}
		defer f.Close()
		files[i] = bufio.NewWriterSize(f, 64<<10)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.stopped:
			return
		case <-tick.C:
		}
		for i, bw := range files {
			w.mu.Lock()
			from := w.written[i]
			w.mu.Unlock()
			for n := from; n < from+perTick; n++ {
				fmt.Fprintf(bw, "f%d %09d %s\n", i, n, pad)
			}
			if err := bw.Flush(); err != nil {
				w.fail(err)
				return
			}
			w.mu.Lock()
			w.written[i] += perTick
			w.mu.Unlock()
		}
	}
}

func (w *fileWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

// stop stops writing and returns the lines written per file.
func (w *fileWriter) stop() ([]int, error) {
	select {
	case <-w.stopped:
	default:
		close(w.stopped)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.written...), w.err
}

// lineLedger checks the lines "f<file> <seq>" read from the broker: per
// file, a line never seen before must come after every line seen so far
// (order), a line seen before is a duplicate (at least once).
type lineLedger struct {
	seen    [][]bool
	max     []int
	unique  []int
	dups    []int
	lateErr error
}

func newLineLedger(files int) *lineLedger {
	l := &lineLedger{seen: make([][]bool, files), max: make([]int, files), unique: make([]int, files), dups: make([]int, files)}
	for i := range l.max {
		l.max[i] = -1
	}
	return l
}

func (l *lineLedger) add(body []byte) error {
	var file, seq int
	if _, err := fmt.Sscanf(string(body), "f%d %d ", &file, &seq); err != nil || file < 0 || file >= len(l.seen) || seq < 0 {
		return fmt.Errorf("unexpected line %.40q", body)
	}
	if seq >= len(l.seen[file]) {
		l.seen[file] = append(l.seen[file], make([]bool, seq+1-len(l.seen[file])+4096)...)
	}
	switch {
	case l.seen[file][seq]:
		l.dups[file]++
	case seq < l.max[file]:
		return fmt.Errorf("file %d: line %d arrived after line %d, and for the first time: out of order", file, seq, l.max[file])
	default:
		l.seen[file][seq] = true
		l.unique[file]++
		l.max[file] = seq
	}
	return nil
}

// has reports whether line seq of file arrived.
func (l *lineLedger) has(file, seq int) bool {
	return seq < len(l.seen[file]) && l.seen[file][seq]
}

// readLines consumes topic from the start into a ledger until done holds
// or within passes.
func readLines(t *testing.T, addr, topic string, files int, within time.Duration, done func(*lineLedger) bool) *lineLedger {
	t.Helper()
	c := newClient(t, addr)
	// A group of its own each time: every read starts at the beginning.
	group := fmt.Sprintf("verify-%d", time.Now().UnixNano())
	cons, err := c.NewConsumer(client.ConsumerConfig{Group: group, Topic: topic, StartFrom: "earliest"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	l := newLineLedger(files)
	for deadline := time.Now().Add(within); !done(l); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v reading %s: unique lines per file %v, last per file %v", within, topic, l.unique, l.max)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		msgs, err := cons.Poll(ctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			t.Fatalf("poll %s: %v", topic, err)
		}
		for _, m := range msgs {
			if err := l.add(m.Body); err != nil {
				t.Fatal(err)
			}
		}
	}
	return l
}

// allOf holds once every written line of every file arrived.
func allOf(written []int) func(*lineLedger) bool {
	return func(l *lineLedger) bool {
		for i, n := range written {
			if l.unique[i] < n {
				return false
			}
		}
		return true
	}
}

// spoolSetup is a broker process and an agent process tailing a writer's
// files into it through a spool configured by spoolYAML.
type spoolSetup struct {
	brokerDir, addr string
	broker          *brokerProc
	agent           *agentProcess
	writer          *fileWriter
}

const spoolFiles = 4

func startSpoolSetup(t *testing.T, spoolYAML string, perTick int) *spoolSetup {
	t.Helper()
	s := &spoolSetup{brokerDir: t.TempDir(), addr: freeAddr(t)}
	s.broker = startBroker(t, s.brokerDir, s.addr, `"off"`, "")
	logDir, agentDir := t.TempDir(), t.TempDir()
	s.writer = startFileWriter(t, logDir, spoolFiles, perTick)
	s.agent = startAgentProcess(t, agentDir, fmt.Sprintf(`agent:
  broker: %s
  http_listen: AGENT_HTTP
  spool: {dir: %s, %s}
  sources:
    app: {type: file, include: ["%s/*.log"], start_at: beginning, topic: logs}
`, s.addr, filepath.Join(agentDir, "spool"), spoolYAML, logDir))
	waitFor(t, 20*time.Second, "10,000 lines shipped before the broker stops", func() bool {
		return s.agent.metric(t, "sluice_agent_ship_records_total") >= 10000
	})
	return s
}

// restartBroker starts the broker again on its directory and address.
func (s *spoolSetup) restartBroker(t *testing.T) {
	s.broker = startBroker(t, s.brokerDir, s.addr, `"off"`, "")
}

// finish stops the writer shortly after the broker is back, waits for
// every written line at the broker and checks the agent drained its spool.
func (s *spoolSetup) finish(t *testing.T, done func(written []int) func(*lineLedger) bool) ([]int, *lineLedger) {
	t.Helper()
	time.Sleep(500 * time.Millisecond) // the files go on growing while the spool drains
	written, err := s.writer.stop()
	if err != nil {
		t.Fatalf("writer: %v", err)
	}
	l := readLines(t, s.addr, "logs", spoolFiles, 45*time.Second, done(written))
	waitFor(t, 20*time.Second, "the spool to drain", func() bool {
		return s.agent.metric(t, "sluice_agent_spool_records") == 0
	})
	return written, l
}

// TestAgentSpoolBrokerKilled: the broker is SIGKILLed under load; the
// agent spools to disk while it is away (the spool grows), and once it is
// back everything drains: every line arrives, in order per file.
func TestAgentSpoolBrokerKilled(t *testing.T) {
	s := startSpoolSetup(t, "max_size: 1GiB", 100)
	s.broker.kill9()
	var size float64
	waitFor(t, 30*time.Second, "the spool to hold 2 MiB", func() bool {
		size = s.agent.metric(t, "sluice_agent_spool_size_bytes")
		return size >= 2<<20
	})
	waitFor(t, 10*time.Second, "the spool to grow further", func() bool {
		return s.agent.metric(t, "sluice_agent_spool_size_bytes") > size
	})
	if v := s.agent.metric(t, "sluice_agent_ship_spooling"); v != 1 {
		t.Errorf("sluice_agent_ship_spooling is %v while the broker is away, want 1", v)
	}
	s.restartBroker(t)
	written, l := s.finish(t, allOf)
	checkDuplicates(t, l, 0)
	if spooled := s.agent.metric(t, "sluice_agent_ship_spooled_records_total"); spooled == 0 {
		t.Error("no record went through the spool")
	}
	t.Logf("written per file %v, duplicates %v, spooled %v records", written, l.dups, s.agent.metric(t, "sluice_agent_ship_spooled_records_total"))
}

// checkDuplicates fails the test if a file has more than max repeated
// lines.
func checkDuplicates(t *testing.T, l *lineLedger, max int) {
	t.Helper()
	for i, d := range l.dups {
		if d > max {
			t.Errorf("file %d: %d lines arrived twice, want at most %d", i, d, max)
		}
	}
}

// TestAgentSpoolFullBlock: with a small spool and when_full: block, the
// spool fills while the broker (stopped by SIGTERM) is away, then the
// file source pauses: its lines read stop growing though the files do.
// Nothing is lost: once the broker is back every line arrives, in order.
func TestAgentSpoolFullBlock(t *testing.T) {
	const maxSize = 8 << 20
	s := startSpoolSetup(t, "max_size: 8MiB, when_full: block", 100)
	if err := s.broker.term(15 * time.Second); err != nil {
		t.Fatalf("broker SIGTERM: %v", err)
	}
	waitFor(t, 30*time.Second, "the spool to fill", func() bool {
		return s.agent.metric(t, "sluice_agent_spool_size_bytes") >= maxSize*3/4
	})
	var read float64
	waitFor(t, 20*time.Second, "the file source to pause", func() bool {
		prev := read
		read = s.agent.metric(t, `sluice_agent_file_lines_total{source="app"}`)
		time.Sleep(300 * time.Millisecond) // the writer adds 4,000 lines meanwhile
		return read == prev
	})
	if size := s.agent.metric(t, "sluice_agent_spool_size_bytes"); size > maxSize {
		t.Fatalf("spool holds %v bytes, over its max_size %d", size, maxSize)
	}
	if v := s.agent.metric(t, "sluice_agent_spool_dropped_records_total"); v != 0 {
		t.Fatalf("when_full: block dropped %v records", v)
	}
	s.restartBroker(t)
	written, l := s.finish(t, allOf)
	checkDuplicates(t, l, 0)
	if v := s.agent.metric(t, "sluice_agent_spool_append_blocked_seconds_total"); v <= 0 {
		t.Errorf("sluice_agent_spool_append_blocked_seconds_total is %v after the spool was full", v)
	}
	t.Logf("written per file %v, duplicates %v, blocked %.1fs", written, l.dups, s.agent.metric(t, "sluice_agent_spool_append_blocked_seconds_total"))
}

// TestAgentSpoolFullDropOldest: with a small spool and when_full:
// drop_oldest, the spool drops its oldest entries while the broker is
// away, counts them in /metrics and logs them. What arrives is in order
// per file, and what is missing is no more than the dropped entries can
// hold; every line written after the broker returned arrives.
func TestAgentSpoolFullDropOldest(t *testing.T) {
	s := startSpoolSetup(t, "max_size: 8MiB, when_full: drop_oldest", 100)
	s.broker.kill9()
	waitFor(t, 30*time.Second, "the spool to drop", func() bool {
		return s.agent.metric(t, "sluice_agent_spool_dropped_records_total") > 0
	})
	s.restartBroker(t)
	// Once the agent sends directly again, nothing is dropped any more:
	// every line written from then on must arrive.
	waitFor(t, 30*time.Second, "the agent to drain its spool and send directly", func() bool {
		return s.agent.metric(t, "sluice_agent_ship_spooling") == 0
	})
	droppedBefore := s.agent.metric(t, "sluice_agent_spool_dropped_records_total")
	s.writer.mu.Lock()
	after := append([]int(nil), s.writer.written...)
	s.writer.mu.Unlock()
	written, l := s.finish(t, func(written []int) func(*lineLedger) bool {
		return func(l *lineLedger) bool {
			for i, n := range written {
				if !l.has(i, n-1) {
					return false
				}
			}
			return true
		}
	})
	dropped := s.agent.metric(t, "sluice_agent_spool_dropped_records_total")
	var missing, total int
	for i, n := range written {
		missing += n - l.unique[i]
		total += n
		for seq := after[i]; seq < n && dropped == droppedBefore; seq++ {
			if !l.has(i, seq) {
				t.Fatalf("file %d: line %d, written after the drops, is missing", i, seq)
			}
		}
	}
	if arrived := total - missing; float64(arrived)+dropped*tailBatchLines < float64(total) {
		t.Fatalf("%d of %d lines arrived and %v spool entries (at most %d lines each) were dropped: lines lost uncounted",
			arrived, total, dropped, tailBatchLines)
	}
	if !strings.Contains(s.agent.errb.String(), "spool full: dropped the oldest records") {
		t.Error("the agent did not log what it dropped")
	}
	checkDuplicates(t, l, tailBatchLines)
	t.Logf("written %d, missing %d, dropped %v spool entries, duplicates %v", total, missing, dropped, l.dups)
}

// TestAgentSIGHUPReload: SIGHUP makes the agent process read its config
// file again: an added file source's lines arrive; a bad file is logged
// with FILE:LINE:COL, counted as a failed reload, and the running
// sources go on; SIGTERM still stops the agent cleanly.
func TestAgentSIGHUPReload(t *testing.T) {
	brokerDir, addr := t.TempDir(), freeAddr(t)
	startBroker(t, brokerDir, addr, `"off"`, "")
	dirA, dirB, agentDir := t.TempDir(), t.TempDir(), t.TempDir()
	source := func(name, dir string) string {
		return fmt.Sprintf("    %s: {type: file, include: [\"%s/*.log\"], start_at: beginning, topic: logs}\n", name, dir)
	}
	head := fmt.Sprintf("agent:\n  broker: %s\n  http_listen: AGENT_HTTP\n  spool: {dir: %s}\n  sources:\n", addr, filepath.Join(agentDir, "spool"))
	writeLines(t, filepath.Join(dirA, "a.log"), 0, 0, 100)
	a := startAgentProcess(t, agentDir, head+source("a", dirA))
	head = strings.ReplaceAll(head, "AGENT_HTTP", a.http)
	readLines(t, addr, "logs", 2, 20*time.Second, func(l *lineLedger) bool { return l.unique[0] == 100 })

	reload := func(yaml string, result string, want float64) {
		t.Helper()
		if err := os.WriteFile(a.cfg, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		a.cmd.Process.Signal(syscall.SIGHUP)
		series := fmt.Sprintf(`sluice_agent_config_reloads_total{result=%q}`, result)
		waitFor(t, 10*time.Second, series+" to count the SIGHUP", func() bool { return a.metric(t, series) == want })
	}
	reload(head+source("a", dirA)+source("b", dirB), "success", 1)
	writeLines(t, filepath.Join(dirB, "b.log"), 1, 0, 100)
	readLines(t, addr, "logs", 2, 20*time.Second, func(l *lineLedger) bool { return l.unique[0] == 100 && l.unique[1] == 100 })

	reload(head+source("a", dirA)+"    b: {type: file, topic: logs, includes: [x]}\n", "failure", 1)
	// The agent logs the errors before it counts the failure; the log
	// still has to come through the pipe.
	fileLineCol := regexp.MustCompile(regexp.QuoteMeta(a.cfg) + `:7:\d+: unknown key \\"includes\\"`)
	waitFor(t, 5*time.Second, "the bad config logged with FILE:LINE:COL", func() bool { return fileLineCol.MatchString(a.errb.String()) })
	writeLines(t, filepath.Join(dirA, "a.log"), 0, 100, 200)
	writeLines(t, filepath.Join(dirB, "b.log"), 1, 100, 200)
	readLines(t, addr, "logs", 2, 20*time.Second, func(l *lineLedger) bool { return l.unique[0] == 200 && l.unique[1] == 200 })

	if err := a.term(15 * time.Second); err != nil {
		t.Fatalf("agent exited with %v after SIGTERM, want 0\n%s", err, tail(a.errb.String(), 2000))
	}
}

// writeLines appends lines from..to-1 of file number file to path, in
// the writer's format.
func writeLines(t *testing.T, path string, file, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for n := from; n < to; n++ {
		fmt.Fprintf(&b, "f%d %09d %s\n", file, n, pad)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}
