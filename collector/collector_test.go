package collector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/broker/server"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func startBroker(t testing.TB) *server.Server {
	t.Helper()
	srv, err := server.Start(server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", HTTPListen: "off",
		AutoCreateTopics: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func newClient(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Addr: addr, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// produce sends msgs and waits for the broker's acknowledgement.
func produce(t *testing.T, c *client.Client, msgs ...client.Message) {
	t.Helper()
	p, err := c.NewProducer(client.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func logLines(topic string, n int) []client.Message {
	msgs := make([]client.Message, n)
	for i := range msgs {
		msgs[i] = client.Message{Topic: topic, Key: "k", Body: fmt.Appendf(nil, "line %d", i),
			Properties: map[string]string{"host": "h1", "file": "/var/log/a.log"}}
	}
	return msgs
}

// parseSection parses a collector section with the test components.
func parseSection(t testing.TB, reg *registry, src string) config.Collector {
	t.Helper()
	f, err := config.ParseWith("c.yaml", []byte(src), reg.schema())
	if err != nil {
		t.Fatal(err)
	}
	return *f.Collector
}

// startCollector runs a collector until the end of the test.
func startCollector(t *testing.T, reg *registry, cfg config.Collector, path string) *Collector {
	t.Helper()
	c, err := New(cfg, Options{Logger: quiet, registry: reg, ConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		c.Shutdown(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committed returns the group's committed offsets on topic, summed.
func committed(t *testing.T, c *client.Client, group, topic string) int64 {
	t.Helper()
	offs, err := c.GroupOffsets(context.Background(), group, topic)
	if err != nil && strings.Contains(err.Error(), "unknown_group") {
		return 0 // not joined yet
	}
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, o := range offs {
		n += o.Offset
	}
	return n
}

func TestLogsReachSinkAndAreCommitted(t *testing.T) {
	srv := startBroker(t)
	cl := newClient(t, srv.Addr())
	produce(t, cl, logLines("logs", 1000)...)
	reg, mem := testRegistry()
	cfg := parseSection(t, reg, fmt.Sprintf(`
collector:
  broker: %s
  http_listen: off
  group: g1
  pipelines:
    logs:
      from: {topic: logs}
      processors:
        - upper: {field: message}
      to: [a, b]
  sinks:
    a: {type: mem}
    b: {type: mem}
`, srv.Addr()))
	startCollector(t, reg, cfg, "")
	for _, name := range []string{"a", "b"} {
		waitFor(t, "1000 events in sink "+name, func() bool { return len(mem.get(name).snapshot()) >= 1000 })
	}
	seen := map[string]bool{}
	for _, e := range mem.get("a").snapshot() {
		if e.Kind != event.KindLog || e.Meta["host"] != "h1" || e.Meta["topic"] != "logs" || e.Meta["key"] != "k" ||
			e.Meta["file"] != "/var/log/a.log" || e.Time.IsZero() {
			t.Fatalf("event %+v", e)
		}
		seen[e.Message()] = true
	}
	for i := range 1000 {
		if !seen[fmt.Sprintf("LINE %d", i)] {
			t.Fatalf("LINE %d missing", i)
		}
	}
	waitFor(t, "offsets committed", func() bool { return committed(t, cl, "g1", "logs") == 1000 })
}

func TestMetricsMessagesBecomeMetricEvents(t *testing.T) {
	srv := startBroker(t)
	cl := newClient(t, srv.Addr())
	wr := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "node"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: 1700000000000}},
	}}}
	body, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	produce(t, cl,
		client.Message{Topic: "metrics", Body: body, Properties: map[string]string{"content-type": ContentTypeWriteRequest}},
		client.Message{Topic: "metrics", Body: []byte("not protobuf \xff\xff"), Properties: map[string]string{"content-type": ContentTypeWriteRequest}},
		client.Message{Topic: "metrics", Body: body, Properties: map[string]string{"content-type": ContentTypeWriteRequest}})
	reg, mem := testRegistry()
	cfg := parseSection(t, reg, fmt.Sprintf(`
collector:
  broker: %s
  http_listen: off
  pipelines:
    m: {from: {topic: metrics}, to: [vm]}
  sinks:
    vm: {type: mem}
`, srv.Addr()))
	c := startCollector(t, reg, cfg, "")
	waitFor(t, "2 metric events", func() bool { return len(mem.get("vm").snapshot()) == 2 })
	for _, e := range mem.get("vm").snapshot() {
		if e.Kind != event.KindMetric || len(e.Series) != 1 || e.Series[0].Labels[1].Value != "node" || e.Samples() != 1 {
			t.Fatalf("metric event %+v", e)
		}
	}
	// The undecodable message is counted, skipped and committed.
	waitFor(t, "commit past the bad message", func() bool { return committed(t, cl, "collectors", "metrics") == 3 })
	if n := c.set.GetOrCreateCounter(`sluice_collector_decode_errors_total{pipeline="m"}`).Get(); n != 1 {
		t.Fatalf("decode errors %d, want 1", n)
	}
}

func TestFailingSinkHoldsTheBatchInTheBroker(t *testing.T) {
	srv := startBroker(t)
	cl := newClient(t, srv.Addr())
	produce(t, cl, logLines("logs", 10)...)
	reg, mem := testRegistry()
	cfg := parseSection(t, reg, fmt.Sprintf(`
collector:
  broker: %s
  http_listen: off
  pipelines:
    logs: {from: {topic: logs}, to: [ok, flaky]}
  sinks:
    ok: {type: mem}
    flaky: {type: mem, fail_first: 2}
`, srv.Addr()))
	startCollector(t, reg, cfg, "")
	// "ok" accepts at once, but nothing is committed until "flaky" does.
	waitFor(t, "ok sink", func() bool { return len(mem.get("ok").snapshot()) >= 10 })
	if n := committed(t, cl, "collectors", "logs"); n != 0 && len(mem.get("flaky").snapshot()) == 0 {
		t.Fatalf("committed %d while a sink had not accepted", n)
	}
	waitFor(t, "flaky sink after retries", func() bool { return len(mem.get("flaky").snapshot()) >= 10 })
	waitFor(t, "commit", func() bool { return committed(t, cl, "collectors", "logs") == 10 })
	if got := len(mem.get("flaky").snapshot()); got != 10 {
		t.Fatalf("flaky sink has %d events, want 10 (each once)", got)
	}
	if w := mem.get("flaky").writes; w < 3 {
		t.Fatalf("flaky sink written %d times, want 3 (two failures)", w)
	}
}

func TestOnFailureDropAndDLQ(t *testing.T) {
	srv := startBroker(t)
	cl := newClient(t, srv.Addr())
	produce(t, cl, logLines("logs", 5)...)
	reg, _ := testRegistry()
	cfg := parseSection(t, reg, fmt.Sprintf(`
collector:
  broker: %s
  http_listen: off
  group: g
  pipelines:
    logs: {from: {topic: logs}, to: [dropper, dead]}
  sinks:
    dropper: {type: mem, fail_always: true, on_failure: drop}
    dead: {type: mem, fail_always: true, on_failure: dlq, dlq_topic: dead-letters}
`, srv.Addr()))
	c := startCollector(t, reg, cfg, "")
	waitFor(t, "commit", func() bool { return committed(t, cl, "g", "logs") == 5 })
	if n := c.set.GetOrCreateCounter(`sluice_collector_sink_events_dropped_total{sink="dropper",reason="on_failure"}`).Get(); n != 5 {
		t.Fatalf("dropped %d, want 5", n)
	}
	var got []client.Message
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := cl.NewConsumer(client.ConsumerConfig{Group: "reader", Topic: "dead-letters"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for len(got) < 5 {
		msgs, err := cons.Poll(ctx)
		if err != nil {
			t.Fatalf("dead letters: %v (have %d)", err, len(got))
		}
		got = append(got, msgs...)
	}
	m := got[0]
	if m.Properties["dlq_sink"] != "dead" || m.Properties["dlq_pipeline"] != "logs" || m.Properties["host"] != "h1" ||
		!strings.Contains(m.Properties["dlq_error"], "failing write") || !strings.Contains(string(m.Body), `"message":"line `) {
		t.Fatalf("dead letter %+v body %s", m.Properties, m.Body)
	}
}

func TestRouteSendsEventsToChosenSinks(t *testing.T) {
	srv := startBroker(t)
	cl := newClient(t, srv.Addr())
	msgs := logLines("logs", 4)
	msgs[1].Body, msgs[3].Body = []byte("an ERROR here"), []byte("ERROR again")
	produce(t, cl, msgs...)
	reg, mem := testRegistry()
	cfg := parseSection(t, reg, fmt.Sprintf(`
collector:
  broker: %s
  http_listen: off
  pipelines:
    logs:
      from: {topic: logs}
      processors: [{upper: {route_if: error, route_to: [errors]}}]
      to: [all]
  sinks:
    all: {type: mem}
    errors: {type: mem}
`, srv.Addr()))
	startCollector(t, reg, cfg, "")
	waitFor(t, "commit", func() bool { return committed(t, cl, "collectors", "logs") == 4 })
	var all, errs []string
	for _, e := range mem.get("all").snapshot() {
		all = append(all, e.Message())
	}
	for _, e := range mem.get("errors").snapshot() {
		errs = append(errs, e.Message())
	}
	if fmt.Sprint(all) != "[line 0 line 2]" || fmt.Sprint(errs) != "[an ERROR here ERROR again]" {
		t.Fatalf("all %q errors %q", all, errs)
	}
}

func TestReloadSwapsPipelinesAndRefusesBadConfig(t *testing.T) {
	srv := startBroker(t)
	cl := newClient(t, srv.Addr())
	reg, mem := testRegistry()
	path := filepath.Join(t.TempDir(), "c.yaml")
	write := func(sinkExtra string) config.Collector {
		src := fmt.Sprintf(`
collector:
  broker: %s
  http_listen: 127.0.0.1:0
  pipelines:
    logs: {from: {topic: logs}, to: [a]}
  sinks:
    a: {type: mem%s}
`, srv.Addr(), sinkExtra)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return parseSection(t, reg, src)
	}
	c := startCollector(t, reg, write(""), path)
	produce(t, cl, logLines("logs", 100)...)
	waitFor(t, "first generation", func() bool { return len(mem.get("a").snapshot()) == 100 })
	first := mem.get("a")

	// A file that does not check is refused over HTTP; the old pipeline goes on.
	if err := os.WriteFile(path, []byte("collector:\n  pipelines: {logs: {from: {topic: logs}, to: [nope]}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+c.HTTPAddr()+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `c.yaml:2:48: pipeline logs: sink "nope" is not defined in collector.sinks`) {
		t.Fatalf("bad reload: %d %s", resp.StatusCode, body)
	}
	// A sink that cannot be built is refused too.
	if err := c.Reload(context.Background(), write(", build_error: no such host")); err == nil || !strings.Contains(err.Error(), "sink a: no such host") {
		t.Fatalf("reload with a failing sink: %v", err)
	}
	produce(t, cl, logLines("logs", 50)...)
	waitFor(t, "old pipeline still running", func() bool { return len(first.snapshot()) == 150 })

	// A good file swaps the pipeline: the new sink gets what comes next.
	write(", fail_first: 1")
	resp, err = http.Post("http://"+c.HTTPAddr()+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("good reload: %d", resp.StatusCode)
	}
	if mem.get("a") == first || !first.closed {
		t.Fatal("the sink was not rebuilt and the old one closed")
	}
	produce(t, cl, logLines("logs", 25)...)
	waitFor(t, "new generation", func() bool { return len(mem.get("a").snapshot()) >= 25 })
	waitFor(t, "commit", func() bool { return committed(t, cl, "collectors", "logs") == 175 })
	if n := c.set.GetOrCreateCounter(`sluice_collector_config_reloads_total{result="failure"}`).Get(); n != 2 {
		t.Fatalf("failed reloads %d, want 2", n)
	}
}
