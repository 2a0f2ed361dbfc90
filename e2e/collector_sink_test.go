package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/internal/testbin"
)

const contentTypeWriteRequest = "application/x-protobuf;proto=prometheus.WriteRequest"

// startVM runs a victoria-metrics process and waits until it serves.
func startVM(t *testing.T) (*os.Process, string) {
	t.Helper()
	bin := testbin.Require(t, "victoria-metrics")
	addr := freeAddr(t)
	cmd := exec.Command(bin, "-storageDataPath="+t.TempDir(), "-httpListenAddr="+addr, "-search.disableCache",
		"-loggerLevel=ERROR")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	waitFor(t, 30*time.Second, "victoria-metrics ready", func() bool {
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return cmd.Process, addr
}

// metricBatch is one agent-style metrics message: series samples at ts.
func metricBatch(t *testing.T, batch, series int, ts int64) client.Message {
	t.Helper()
	wr := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, series)}
	for i := range wr.Timeseries {
		wr.Timeseries[i] = prompb.TimeSeries{
			Labels: []prompb.Label{{Name: "__name__", Value: "e2e_metric"}, {Name: "series", Value: strconv.Itoa(i)},
				{Name: "pad", Value: strings.Repeat("x", 64)}},
			Samples: []prompb.Sample{{Value: float64(batch), Timestamp: ts}},
		}
	}
	body, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// One key: the batches of this "target" stay in one queue, in order.
	return client.Message{Topic: "metrics", Key: "job/instance", Body: body,
		Properties: map[string]string{"content-type": contentTypeWriteRequest}}
}

// vmSamples counts the distinct samples (series, timestamp) of e2e_metric
// that VictoriaMetrics has: a request retried after a timeout may have
// been stored twice (at-least-once), which is not a loss.
func vmSamples(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + `/api/v1/export?match[]=e2e_metric&start=0`)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	seen := map[[2]string]bool{}
	dec := json.NewDecoder(resp.Body)
	for {
		var line struct {
			Metric     map[string]string
			Timestamps []int64
		}
		if err := dec.Decode(&line); err == io.EOF {
			return len(seen)
		} else if err != nil {
			t.Fatalf("export: %v", err)
		}
		for _, ts := range line.Timestamps {
			seen[[2]string{line.Metric["series"], strconv.FormatInt(ts, 10)}] = true
		}
	}
}

// rssKiB returns a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// TestSinkStoppedBacklogWaitsInBroker stops VictoriaMetrics with SIGSTOP
// for 30 s while metrics keep coming: the collector's memory stays
// bounded, its committed offsets stop (the backlog waits in the broker),
// and after SIGCONT every sample arrives.
func TestSinkStoppedBacklogWaitsInBroker(t *testing.T) {
	vm, vmAddr := startVM(t)
	dir := t.TempDir()
	b := startBroker(t, dir, freeAddr(t), freeAddr(t), "")
	cfg := filepath.Join(dir, "collector.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
collector:
  broker: %s
  http_listen: %s
  group: vm
  pipelines:
    metrics: {from: {topic: metrics}, to: [vm]}
  sinks:
    vm:
      type: prometheus_remote_write
      url: http://%s/api/v1/write
      timeout: 5s
`, b.addr, freeAddr(t), vmAddr))
	coll := start(t, "collector", nil, "collector", "-c", cfg)
	c := newClient(t, b.addr)
	p, err := c.NewProducer(client.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const series = 500
	base := time.Now().Add(-30 * time.Minute).UnixMilli() // old enough for VM to answer at once
	send := func(from, to int) {
		msgs := make([]client.Message, 0, to-from)
		for i := from; i < to; i++ {
			msgs = append(msgs, metricBatch(t, i, series, base+int64(i)*1000))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := p.Send(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	send(0, 20)
	waitFor(t, 30*time.Second, "first samples in VictoriaMetrics", func() bool { return vmSamples(t, vmAddr) == 20*series })

	if err := vm.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	committedBefore := consumedOffsets(t, c, "vm", "metrics")
	// About 50 MB of samples arrive while the sink is stopped: more than a
	// collector that buffered them could hide.
	peak := 0
	for i := 20; i < 1020; i += 50 {
		send(i, i+50)
		peak = max(peak, rssKiB(t, coll.cmd.Process.Pid))
	}
	for time.Since(stoppedAt) < 30*time.Second {
		peak = max(peak, rssKiB(t, coll.cmd.Process.Pid))
		time.Sleep(500 * time.Millisecond)
	}
	committedDuring := consumedOffsets(t, c, "vm", "metrics")
	if err := vm.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	t.Logf("collector peak RSS while the sink was stopped: %d MiB; committed %d before, %d after 30 s", peak>>10, committedBefore, committedDuring)
	if committedDuring > committedBefore+1 {
		t.Fatalf("committed offsets moved from %d to %d while the sink was stopped", committedBefore, committedDuring)
	}
	if peak > 160<<10 {
		t.Fatalf("collector RSS reached %d MiB while the sink was stopped: it holds the backlog in memory", peak>>10)
	}
	waitFor(t, 2*time.Minute, "every sample after SIGCONT", func() bool { return vmSamples(t, vmAddr) >= 1020*series })
	if n := vmSamples(t, vmAddr); n != 1020*series {
		t.Fatalf("VictoriaMetrics has %d samples, want %d", n, 1020*series)
	}
	waitFor(t, 30*time.Second, "all committed", func() bool { return consumedOffsets(t, c, "vm", "metrics") == 1020 })
	if err := coll.term(10 * time.Second); err != nil {
		t.Fatalf("collector exit: %v", err)
	}
}

// consumedOffsets sums a group's committed offsets on topic (0 before it joined).
func consumedOffsets(t *testing.T, c *client.Client, group, topic string) int64 {
	t.Helper()
	offs, err := c.GroupOffsets(context.Background(), group, topic)
	if err != nil {
		if strings.Contains(err.Error(), "unknown_group") {
			return 0
		}
		t.Fatal(err)
	}
	var n int64
	for _, o := range offs {
		n += o.Offset
	}
	return n
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
