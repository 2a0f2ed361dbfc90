package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/prometheus/prometheus/prompb"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/broker/server"
	"github.com/sluicehq/sluice/pipelines/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startBroker starts a real broker, closed at the end of the test.
func startBroker(t *testing.T) *server.Server {
	t.Helper()
	srv, err := server.Start(server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", HTTPListen: "off",
		AutoCreateTopics: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// runAgent runs the agent until the end of the test, which fails if the
// agent returns an error or does not stop within 15s.
func runAgent(t *testing.T, sec *config.Agent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, *sec, Options{Logger: quiet}) }()
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

// TestAgentShipsHostMetrics runs the agent with a host_metrics source
// against a real broker and reads the metrics back.
func TestAgentShipsHostMetrics(t *testing.T) {
	srv := startBroker(t)
	f, err := config.Parse("agent.yaml", []byte(`
agent:
  broker: `+srv.Addr()+`
  http_listen: 127.0.0.1:0
  spool: {dir: `+t.TempDir()+`}
  sources:
    node: {type: host_metrics, interval: 1s, topic: metrics}
`))
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, f.Agent)

	c := newClient(t, srv.Addr())
	cons, err := c.NewConsumer(client.ConsumerConfig{Group: "check", Topic: "metrics"})
	if err != nil && !strings.Contains(err.Error(), "unknown_topic") {
		t.Fatal(err)
	}
	for cons == nil { // the topic appears with the agent's first batch
		time.Sleep(50 * time.Millisecond)
		cons, err = c.NewConsumer(client.ConsumerConfig{Group: "check", Topic: "metrics"})
	}
	defer cons.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	msgs, err := cons.Poll(pctx)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("no metrics from the agent: %v", err)
	}
	m := msgs[0]
	if m.Properties[source.PropContentType] != source.ContentTypeWriteRequest || !strings.HasPrefix(m.Key, "node/") {
		t.Fatalf("metrics message: key %q properties %v", m.Key, m.Properties)
	}
	var wr prompb.WriteRequest
	if err := proto.Unmarshal(m.Body, &wr); err != nil || len(wr.Timeseries) == 0 {
		t.Fatalf("body is not a WriteRequest with series: %v", err)
	}
}

// TestAgentOutputKafka runs the agent with `output: kafka` into kfake and
// reads a host_metrics record back with kafka-go.
func TestAgentOutputKafka(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "metrics"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close) // after the agent's cleanup, which flushes into it
	f, err := config.Parse("agent.yaml", []byte(`
agent:
  output: kafka
  kafka: {brokers: [`+kc.ListenAddrs()[0]+`]}
  http_listen: "off"
  spool: {dir: `+t.TempDir()+`}
  sources:
    node: {type: host_metrics, interval: 1s, topic: metrics}
`))
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, f.Agent)
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.ListenAddrs(), Topic: "metrics", Partition: 0, MaxWait: 100 * time.Millisecond})
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	m, err := r.ReadMessage(rctx)
	rcancel()
	r.Close()
	if err != nil {
		t.Fatalf("no metrics in Kafka: %v", err)
	}
	var wr prompb.WriteRequest
	if err := proto.Unmarshal(m.Value, &wr); err != nil || len(wr.Timeseries) == 0 || !strings.HasPrefix(string(m.Key), "node/") {
		t.Fatalf("kafka message key %q is not a WriteRequest with series: %v", m.Key, err)
	}
}

// TestAgentTailsFilesIntoBroker runs the agent with a file source and
// reads the lines back from a real broker, in order, with properties.
func TestAgentTailsFilesIntoBroker(t *testing.T) {
	srv := startBroker(t)
	logDir := t.TempDir()
	logFile := filepath.Join(logDir, "app.log")
	var lines strings.Builder
	for i := range 500 {
		fmt.Fprintf(&lines, "hello %03d\n", i)
	}
	os.WriteFile(logFile, []byte(lines.String()), 0o644)
	f, err := config.Parse("agent.yaml", []byte(`
agent:
  broker: `+srv.Addr()+`
  http_listen: "off"
  spool: {dir: `+t.TempDir()+`}
  sources:
    app: {type: file, include: ["`+logDir+`/*.log"], start_at: beginning, topic: logs, fields: {team: core}}
`))
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, f.Agent)
	c := newClient(t, srv.Addr())
	var got []client.Message
	for deadline := time.Now().Add(20 * time.Second); len(got) < 500 && time.Now().Before(deadline); {
		cons, err := c.NewConsumer(client.ConsumerConfig{Group: "check", Topic: "logs"})
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for len(got) < 500 && time.Now().Before(deadline) {
			pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
			msgs, _ := cons.Poll(pctx)
			pcancel()
			got = append(got, msgs...)
		}
		cons.Close()
	}
	if len(got) != 500 {
		t.Fatalf("%d lines reached the broker, want 500", len(got))
	}
	for i, m := range got {
		if want := fmt.Sprintf("hello %03d", i); string(m.Body) != want || m.Properties["file"] != logFile || m.Properties["team"] != "core" ||
			m.Properties["offset"] != fmt.Sprint(i*len("hello 000\n")) {
			t.Fatalf("message %d: %q %v, want %q", i, m.Body, m.Properties, want)
		}
	}
}

// TestAgentHTTPReceiverIntoBroker posts NDJSON to the agent's http source
// and reads the events back from the broker; the POST returns only once
// they are durable.
func TestAgentHTTPReceiverIntoBroker(t *testing.T) {
	srv := startBroker(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	f, err := config.Parse("agent.yaml", []byte(`
agent:
  broker: `+srv.Addr()+`
  http_listen: "off"
  spool: {dir: `+t.TempDir()+`}
  sources:
    in: {type: http, listen: "`+addr+`", topic: events}
`))
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, f.Agent)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err = hc.Post("http://"+addr+"/", "application/x-ndjson", strings.NewReader(`{"msg":"a"}`+"\n"+`{"msg":"b"}`+"\n"))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST: %s", resp.Status)
	}
	c := newClient(t, srv.Addr())
	cons, err := c.NewConsumer(client.ConsumerConfig{Group: "check", Topic: "events"})
	if err != nil {
		t.Fatalf("the events topic does not exist after a 2xx: %v", err)
	}
	defer cons.Close()
	var got []string
	for deadline := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
		pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
		msgs, _ := cons.Poll(pctx)
		pcancel()
		for _, m := range msgs {
			got = append(got, string(m.Body))
		}
	}
	if len(got) != 2 || got[0] != `{"msg":"a"}` || got[1] != `{"msg":"b"}` {
		t.Fatalf("events %q", got)
	}
}
