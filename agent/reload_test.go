package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/pipelines/config"
)

// logBuffer is a log destination safe for the agent writing and a test
// reading.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startAgent runs an Agent until the end of the test and returns it once
// its sources run; its log goes to the returned buffer.
func startAgent(t *testing.T, sec config.Agent) (*Agent, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	ready := make(chan struct{})
	a := New(sec, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), Ready: func(string) { close(ready) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("agent did not stop within 15s")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("agent stopped at start: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready within 10s")
	}
	return a, logs
}

// agentYAML is an agent section with a spool in dir and the given sources
// (YAML lines, indented by four spaces).
func agentYAML(broker, dir string, sources ...string) string {
	return "agent:\n  broker: " + broker + "\n  http_listen: \"off\"\n  spool: {dir: " + dir + "}\n  sources:\n" +
		strings.Join(sources, "\n") + "\n"
}

func parseAgent(t *testing.T, yaml string) config.Agent {
	t.Helper()
	f, err := config.Parse("agent.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	return *f.Agent
}

func fileSource(name, dir, extra string) string {
	return fmt.Sprintf(`    %s: {type: file, include: ["%s/*.log"], start_at: beginning, topic: logs%s}`, name, dir, extra)
}

func appendLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s %04d\n", prefix, i)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// topicReader reads one topic from the start as a group of its own.
type topicReader struct {
	t    *testing.T
	c    *client.Client
	cons *client.Consumer
	got  []client.Message
}

func newTopicReader(t *testing.T, c *client.Client, topic string) *topicReader {
	r := &topicReader{t: t, c: c}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		cons, err := c.NewConsumer(client.ConsumerConfig{Group: "check-" + topic, Topic: topic})
		if err == nil {
			r.cons = cons
			t.Cleanup(func() { cons.Close() })
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("consume %s: %v", topic, err)
		}
	}
}

// until reads until cond holds on every message read so far.
func (r *topicReader) until(what string, cond func([]client.Message) bool) {
	r.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(r.got); {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s; read %d messages", what, len(r.got))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		msgs, _ := r.cons.Poll(ctx)
		cancel()
		r.got = append(r.got, msgs...)
	}
}

// bodies returns the bodies read so far that start with prefix.
func (r *topicReader) bodies(prefix string) []string {
	var out []string
	for _, m := range r.got {
		if strings.HasPrefix(string(m.Body), prefix) {
			out = append(out, string(m.Body))
		}
	}
	return out
}

// hasAll reports whether msgs hold the lines prefix from..to-1.
func hasAll(prefix string, from, to int) func([]client.Message) bool {
	return func(msgs []client.Message) bool {
		seen := map[string]bool{}
		for _, m := range msgs {
			seen[string(m.Body)] = true
		}
		for i := from; i < to; i++ {
			if !seen[fmt.Sprintf("%s %04d", prefix, i)] {
				return false
			}
		}
		return true
	}
}

// metricValue returns the value of the series named exactly series in set.
func metricValue(t *testing.T, set *metrics.Set, series string) float64 {
	t.Helper()
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

// TestReloadAddRemoveChange reloads an agent's file sources: an added
// source's lines arrive, an unchanged one keeps running untouched, a
// changed one resumes at its checkpoint with its new fields, and a
// removed one stops reading.
func TestReloadAddRemoveChange(t *testing.T) {
	srv := startBroker(t)
	spoolDir, dirA, dirB, dirC := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	logA, logB, logC := filepath.Join(dirA, "a.log"), filepath.Join(dirB, "b.log"), filepath.Join(dirC, "c.log")
	appendLines(t, logA, "a", 0, 100)
	appendLines(t, logC, "c", 0, 100)
	a, _ := startAgent(t, parseAgent(t, agentYAML(srv.Addr(), spoolDir,
		fileSource("a", dirA, ""), fileSource("c", dirC, ", fields: {v: one}"))))
	r := newTopicReader(t, newClient(t, srv.Addr()), "logs")
	r.until("a and c lines 0-99", func(m []client.Message) bool { return hasAll("a", 0, 100)(m) && hasAll("c", 0, 100)(m) })

	// Add b, change c's fields, keep a.
	a.mu.Lock()
	keptA := a.running["a"]
	a.mu.Unlock()
	appendLines(t, logB, "b", 0, 100)
	err := a.Reload(parseAgent(t, agentYAML(srv.Addr(), spoolDir,
		fileSource("a", dirA, ""), fileSource("b", dirB, ""), fileSource("c", dirC, ", fields: {v: two}"))))
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	if a.running["a"] != keptA || keptA.exited() {
		t.Error("the unchanged source a was restarted by the reload")
	}
	a.mu.Unlock()
	appendLines(t, logA, "a", 100, 200)
	appendLines(t, logC, "c", 100, 200)
	r.until("a 100-199, b 0-99 and c 100-199", func(m []client.Message) bool {
		return hasAll("a", 100, 200)(m) && hasAll("b", 0, 100)(m) && hasAll("c", 100, 200)(m)
	})
	for _, m := range r.got {
		line := string(m.Body)
		if strings.HasPrefix(line, "c ") {
			n, _ := strconv.Atoi(line[2:])
			// Lines before the reload may come again (at least once),
			// with either value; lines after it carry the new one.
			if n >= 100 && m.Properties["v"] != "two" {
				t.Fatalf("%q has v=%q after the reload, want two", line, m.Properties["v"])
			}
		}
	}
	for _, p := range []string{"a", "b", "c"} {
		checkInOrder(t, p, r.bodies(p+" "))
	}

	// Remove a: it stops reading at once (Reload waited for it).
	if err := a.Reload(parseAgent(t, agentYAML(srv.Addr(), spoolDir, fileSource("b", dirB, ""), fileSource("c", dirC, ", fields: {v: two}")))); err != nil {
		t.Fatal(err)
	}
	readA := metricValue(t, a.set, `sluice_agent_file_lines_total{source="a"}`)
	if readA < 200 {
		t.Fatalf("source a read %v lines, want at least 200", readA)
	}
	if v := metricValue(t, a.set, `sluice_agent_files_open{source="a"}`); v != -1 {
		t.Errorf("the removed source a still exports sluice_agent_files_open (%v)", v)
	}
	appendLines(t, logA, "a", 200, 300)
	appendLines(t, logB, "b", 100, 200)
	// b's lines take a scan to arrive: time enough for a to read its
	// new lines, were it still running.
	r.until("b 100-199", hasAll("b", 100, 200))
	if v := metricValue(t, a.set, `sluice_agent_file_lines_total{source="a"}`); v != readA {
		t.Fatalf("the removed source a read %v lines after the reload, had %v", v, readA)
	}
	if got := r.bodies("a 02"); len(got) > 0 {
		t.Fatalf("lines of the removed source arrived: %q", got)
	}
	if got := metricValue(t, a.set, `sluice_agent_config_reloads_total{result="success"}`); got != 2 {
		t.Errorf("%v successful reloads counted, want 2", got)
	}
}

// checkInOrder checks that the first appearances of lines "p NNNN" count
// up from 0 without a gap; repeats (at-least-once) are allowed.
func checkInOrder(t *testing.T, p string, lines []string) {
	t.Helper()
	next := 0
	for _, l := range lines {
		n, err := strconv.Atoi(strings.TrimPrefix(l, p+" "))
		if err != nil {
			t.Fatalf("line %q", l)
		}
		if n > next {
			t.Fatalf("%s: line %d arrived before line %d", p, n, next)
		}
		if n == next {
			next++
		}
	}
}

// TestReloadFailures: a file that does not load and a source that cannot
// start fail the reload, are counted, and leave the running sources
// running; settings that need a restart are logged and ignored.
func TestReloadFailures(t *testing.T) {
	srv := startBroker(t)
	spoolDir, dirA := t.TempDir(), t.TempDir()
	logA := filepath.Join(dirA, "a.log")
	cfgPath := filepath.Join(t.TempDir(), "sluice.yaml")
	good := agentYAML(srv.Addr(), spoolDir, fileSource("a", dirA, ""))
	a, logs := startAgent(t, parseAgent(t, good))
	before := metricValue(t, a.set, `sluice_agent_config_last_reload_success_timestamp_seconds`)
	if before <= 0 {
		t.Fatalf("last reload success timestamp %v at start, want the start time", before)
	}

	// A file with a bad key and a bad value.
	bad := strings.Replace(good, "topic: logs", "topic: logs, max_line_bytes: lots, colour: red", 1)
	os.WriteFile(cfgPath, []byte(bad), 0o644)
	err := a.ReloadFile(cfgPath)
	if err == nil || !regexp.MustCompile(regexp.QuoteMeta(cfgPath)+`:6:\d+: `).MatchString(err.Error()) {
		t.Fatalf("reload of a bad file: %v, want FILE:LINE:COL errors", err)
	}
	if !strings.Contains(logs.String(), "config not reloaded") || !strings.Contains(logs.String(), "colour") {
		t.Errorf("the bad file is not logged with its errors:\n%s", logs)
	}

	// A new receiver whose port is taken: the reload fails, a runs on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := agentYAML(srv.Addr(), spoolDir, fileSource("a", dirA, ""),
		`    in: {type: http, listen: "`+l.Addr().String()+`", topic: events}`)
	if err := a.Reload(parseAgent(t, busy)); err == nil {
		t.Fatal("reload with a receiver on a busy port succeeded")
	}
	// The same source changed to a busy port: its old version runs again.
	free := freePort(t)
	withIn := agentYAML(srv.Addr(), spoolDir, fileSource("a", dirA, ""), `    in: {type: http, listen: "`+free+`", topic: events}`)
	if err := a.Reload(parseAgent(t, withIn)); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(parseAgent(t, busy)); err == nil {
		t.Fatal("reload moving a receiver to a busy port succeeded")
	}
	a.mu.Lock()
	in := a.running["in"]
	a.mu.Unlock()
	if in == nil || in.cfg.Listen != free || in.exited() {
		t.Fatalf("the receiver whose change failed does not run with its old config: %+v", in)
	}

	if got := metricValue(t, a.set, `sluice_agent_config_reloads_total{result="failure"}`); got != 3 {
		t.Errorf("%v failed reloads counted, want 3", got)
	}
	if got := metricValue(t, a.set, `sluice_agent_config_reloads_total{result="success"}`); got != 1 {
		t.Errorf("%v successful reloads counted, want 1", got)
	}

	// Settings that need a restart are ignored, with a log line.
	moved := strings.Replace(withIn, "broker: "+srv.Addr(), "broker: 127.0.0.1:1", 1)
	moved = strings.Replace(moved, "spool: {dir: "+spoolDir+"}", "spool: {dir: "+spoolDir+", when_full: drop_oldest}", 1)
	if err := a.Reload(parseAgent(t, moved)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "keys=\"[broker spool]\"") {
		t.Errorf("ignored settings not logged:\n%s", logs)
	}

	// a kept running through all of it, on the broker it started with.
	appendLines(t, logA, "a", 0, 100)
	r := newTopicReader(t, newClient(t, srv.Addr()), "logs")
	r.until("a 0-99", hasAll("a", 0, 100))
	checkInOrder(t, "a", r.bodies("a "))
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestReloadRestartsAFailedSource: a source that stopped on an error is
// started again by a reload, even with an unchanged config.
func TestReloadRestartsAFailedSource(t *testing.T) {
	srv := startBroker(t)
	spoolDir, dirA := t.TempDir(), t.TempDir()
	// A damaged checkpoint file stops the file source at start.
	state := filepath.Join(spoolDir, "files", "a", "checkpoints.json")
	os.MkdirAll(filepath.Dir(state), 0o755)
	os.WriteFile(state, []byte("{not json"), 0o644)
	sec := parseAgent(t, agentYAML(srv.Addr(), spoolDir, fileSource("a", dirA, "")))
	a, _ := startAgent(t, sec)
	a.mu.Lock()
	first := a.running["a"]
	a.mu.Unlock()
	select {
	case <-first.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the file source with a damaged checkpoint file did not stop")
	}
	os.Remove(state)
	if err := a.Reload(sec); err != nil {
		t.Fatal(err)
	}
	appendLines(t, filepath.Join(dirA, "a.log"), "a", 0, 10)
	r := newTopicReader(t, newClient(t, srv.Addr()), "logs")
	r.until("a 0-9", hasAll("a", 0, 10))
}

// TestReloadNotRunning: Reload before Run, or after it returned, fails.
func TestReloadNotRunning(t *testing.T) {
	sec := parseAgent(t, agentYAML("127.0.0.1:1", t.TempDir(), fileSource("a", t.TempDir(), "")))
	a := New(sec, Options{Logger: quiet})
	if err := a.Reload(sec); err != ErrNotRunning {
		t.Fatalf("Reload before Run: %v, want ErrNotRunning", err)
	}
}

func TestSameSource(t *testing.T) {
	const base = `{type: prometheus_scrape, job: j, targets: ["127.0.0.1:1"], topic: m, interval: 5s,
      relabel_configs: [{source_labels: [__address__], regex: "(.*):1", target_label: x, replacement: "$1"}]}`
	for _, tc := range []struct {
		name, other string
		same        bool
	}{
		{"identical", base, true},
		{"interval", strings.Replace(base, "5s", "6s", 1), false},
		{"regex", strings.Replace(base, "(.*):1", "(.*):2", 1), false},
		{"fields", strings.Replace(base, "topic: m", "topic: m, fields: {a: b}", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := parseAgent(t, "agent:\n  sources:\n    s: "+base+"\n").Sources["s"]
			b := parseAgent(t, "agent:\n  sources:\n    s: "+tc.other+"\n").Sources["s"]
			if got := sameSource(a, b); got != tc.same {
				t.Fatalf("sameSource = %v, want %v", got, tc.same)
			}
		})
	}
}
