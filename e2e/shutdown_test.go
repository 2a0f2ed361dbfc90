package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
)

// TestBrokerSIGTERM checks the contract of every sluice process: SIGTERM
// drains and exits 0 within 10 s, and what was acknowledged is there
// after a restart. On the way it checks that /metrics shows the
// produce, consume, lag, fsync and connection metrics an operator needs.
func TestBrokerSIGTERM(t *testing.T) {
	dir, addr, httpAddr := t.TempDir(), freeAddr(t), freeAddr(t)
	b := startBroker(t, dir, addr, httpAddr, "")
	c := newClient(t, addr)
	p, err := c.NewProducer(client.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msgs := make([]client.Message, 5000)
	for i := range msgs {
		msgs[i] = client.Message{Topic: "logs", Body: []byte("line")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	consumeSome(t, c, "ops", "logs", 1000)

	metrics := httpGet(t, "http://"+httpAddr+"/metrics")
	for _, name := range []string{
		"sluice_broker_produce_messages_total", "sluice_broker_fetch_messages_total",
		"sluice_broker_connections", "sluice_store_fsync_duration_seconds",
		`sluice_group_lag_messages{group="ops",topic="logs"`, "sluice_broker_errors_total",
	} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if got := httpGet(t, "http://"+httpAddr+"/readyz"); !strings.Contains(got, "ready") {
		t.Errorf("/readyz says %q", got)
	}

	start := time.Now()
	if err := b.term(15 * time.Second); err != nil {
		t.Fatalf("broker exited with %v after SIGTERM, want 0\n%s", err, tail(b.errb.String(), 2000))
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("broker took %v to exit after SIGTERM, want at most 10s", took)
	}
	if !strings.Contains(b.errb.String(), "broker stopped") {
		t.Fatalf("no clean stop in the log:\n%s", tail(b.errb.String(), 2000))
	}
	startBroker(t, dir, addr, httpAddr, "")
	info, err := c.DescribeTopic(context.Background(), "logs")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, q := range info.QueueInfo {
		total += q.Max - q.Min
	}
	if total != int64(len(msgs)) {
		t.Fatalf("%d messages after restart, want %d", total, len(msgs))
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	// No keep-alive: an idle connection's goroutines would outlive the test.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
