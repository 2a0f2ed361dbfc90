package remotewrite

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/agent/source"
)

// prometheusBinary finds a prometheus server to test against; without
// one the test is skipped, unless SLUICE_E2E_REQUIRED=1.
func prometheusBinary(t *testing.T) string {
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus"
	}
	if os.Getenv("SLUICE_E2E_REQUIRED") == "1" {
		t.Fatal("no prometheus binary and SLUICE_E2E_REQUIRED=1")
	}
	t.Skip("no prometheus binary")
	return ""
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// samplesEmitter acks every batch and remembers the up samples per key.
type samplesEmitter struct {
	mu  sync.Mutex
	up  map[string]int
	bad error
}

func (s *samplesEmitter) Emit(ctx context.Context, recs []source.Record, ack func(error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		var wr prompb.WriteRequest
		if err := wr.Unmarshal(r.Body); err != nil {
			s.bad = err
		}
		for _, ts := range wr.Timeseries {
			for _, l := range ts.Labels {
				if l.Name == "__name__" && l.Value == "up" {
					s.up[r.Key] += len(ts.Samples)
				}
			}
		}
	}
	ack(nil)
	return nil
}

// TestPrometheusE2E runs a real Prometheus scraping itself and remote
// writing to the receiver, and waits for its up samples.
func TestPrometheusE2E(t *testing.T) {
	bin := prometheusBinary(t)
	em := &samplesEmitter{up: make(map[string]int)}
	r, _ := start(t, Config{}, em)
	promAddr := freePort(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: [%q]
remote_write:
  - url: http://%s/api/v1/write
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 100ms
`, promAddr, r.Addr())
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	}()
	key := "prometheus/" + promAddr
	deadline := time.Now().Add(25 * time.Second)
	for {
		em.mu.Lock()
		n, bad := em.up[key], em.bad
		em.mu.Unlock()
		if bad != nil {
			t.Fatalf("record body: %v", bad)
		}
		if n >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d up samples for %s after 25s", n, key)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
