package collector

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/sluicehq/sluice/internal/measure"
	"github.com/sluicehq/sluice/internal/rwtest"
	"github.com/sluicehq/sluice/internal/testbin"
)

// benchVMAgentRelay is BenchmarkMetricsPipelineVM's baseline: vmagent
// doing the collector's job in the same run. It receives the same
// WriteRequests over remote write, relabels them by the same rules and
// remote-writes them to a VictoriaMetrics. cpu-s/M-samples is vmagent's
// CPU time (from /proc) until VictoriaMetrics holds every sample; the
// sender's is not counted. vmagent also pays for HTTP and snappy on the
// way in, where the collector reads from the broker, which the
// collector's benchmark leaves out: this is the nearest job vmagent does.
func benchVMAgentRelay(b *testing.B) {
	vm := startVM(b)
	dir := b.TempDir()
	rules := filepath.Join(dir, "relabel.yml")
	if err := os.WriteFile(rules, []byte(benchRelabel), 0o644); err != nil {
		b.Fatal(err)
	}
	addr := testbin.FreeAddr(b)
	agent := startProcess(b, addr, "vmagent", "-httpListenAddr="+addr, "-loggerLevel=ERROR",
		"-remoteWrite.url=http://"+vm+"/api/v1/write", "-remoteWrite.relabelConfig="+rules,
		"-remoteWrite.tmpDataPath="+filepath.Join(dir, "queue"))
	batches := metricsBatches(b)
	perBatch := samplesIn(b, batches[0])
	bodies := make([][][]byte, len(batches))
	for i, msgs := range batches {
		for _, m := range msgs {
			bodies[i] = append(bodies[i], snappy.Encode(nil, m.Body))
		}
	}
	url := "http://" + addr + "/api/v1/write"
	rows0 := vmRowsInserted(b, vm)
	cpu0, t0 := procCPU(b, agent.Process.Pid), time.Now()
	n := 0
	for b.Loop() {
		for _, body := range bodies[n%len(bodies)] {
			rwtest.MustPost(b, url, body)
		}
		n++
	}
	want := rows0 + float64(n*perBatch)
	for deadline := time.Now().Add(2 * time.Minute); vmRowsInserted(b, vm) < want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("victoria-metrics has %.0f rows, want %.0f", vmRowsInserted(b, vm), want)
		}
	}
	cpu, wall := procCPU(b, agent.Process.Pid)-cpu0, time.Since(t0)
	samples := float64(n * perBatch)
	b.ReportMetric(samples/wall.Seconds(), "samples/s")
	b.ReportMetric(cpu.Seconds()/samples*1e6, "cpu-s/M-samples")
}

// vmRowsInserted returns the rows a VictoriaMetrics has taken in.
func vmRowsInserted(b *testing.B, addr string) float64 {
	rows, err := measure.MetricAt(context.Background(), addr, "vm_rows_inserted_total")
	if err != nil {
		b.Fatal(err)
	}
	return rows
}

// procCPU returns the CPU time of process pid.
func procCPU(b *testing.B, pid int) time.Duration {
	cpu, err := measure.CPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return cpu
}
