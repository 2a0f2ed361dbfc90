package collector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/internal/memlimit"
	"github.com/sluicehq/sluice/internal/testbin"
	"github.com/sluicehq/sluice/pipelines/config"
)

// cpuTime returns the user+system CPU time of this process.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPipeline builds the only pipeline of a collector section with the
// built-in components, without a broker: the benchmark feeds it batches
// as Poll would return them.
func benchPipeline(b *testing.B, src string) *pipeline {
	b.Helper()
	f, err := config.ParseWith("bench.yaml", []byte(src), Components())
	if err != nil {
		b.Fatal(err)
	}
	c := &Collector{lg: quiet, set: metrics.NewSet(), reg: builtins()}
	g, err := c.build(f.Collector.WithDefaults())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeSinks(context.Background(), g.sinks) })
	return g.pipes[0]
}

// BenchmarkLogsPipeline is the logs path: 200-byte JSON lines
// through parse_json and filter into a file sink (fsync per batch), in
// batches of 1,000 as a poll returns them. events/cpu-s is the
// throughput per core; run with -cpu 1 for one core. The sub-benchmarks
// are the GC as Go sets it, and as `sluice collector` runs it with
// memory_budget: 256MiB (internal/memlimit); their ratio is what the
// budget buys.
//
// remove_source is the same with parse_json's remove_source: true, as a
// user who wants the fields and not the line too writes it: the output
// is half as large, without the line escaped inside it.
func BenchmarkLogsPipeline(b *testing.B) {
	b.Run("gc=default", func(b *testing.B) { benchLogsPipeline(b, 0, false) })
	b.Run("memory_budget=256MiB", func(b *testing.B) { benchLogsPipeline(b, 256<<20, false) })
	b.Run("remove_source", func(b *testing.B) { benchLogsPipeline(b, 0, true) })
}

func benchLogsPipeline(b *testing.B, budget int64, removeSource bool) {
	p := benchPipeline(b, fmt.Sprintf(`
collector:
  pipelines:
    logs:
      from: {topic: logs}
      processors:
        - parse_json: {remove_source: %t}
        - filter: {drop_if: 'level == "debug"'}
      to: [file]
  sinks:
    file: {type: file, path: "%s/logs-%%Y-%%m-%%d.log", encoding: json}
`, removeSource, b.TempDir()))
	const batch = 1000
	levels := []string{"info", "warn", "error", "info", "debug"}
	msgs := make([]client.Message, batch)
	for i := range msgs {
		body := fmt.Sprintf(`{"time":"2026-11-28T10:00:00.%06dZ","level":%q,"service":"checkout","msg":"order placed","order_id":%d,"latency_ms":%d.5,"path":"/api/v1/orders"}`,
			i, levels[i%len(levels)], 100000+i, i%300)
		body += strings.Repeat(" ", max(0, 200-len(body)))
		msgs[i] = client.Message{Topic: "logs", Key: "h1", Body: []byte(body), BornAt: time.Now(),
			Properties: map[string]string{"host": "h1", "file": "/var/log/app.log", "source": "app"}}
	}
	b.SetBytes(batch * 200)
	b.ReportAllocs()
	ctx := context.Background()
	stop := memlimit.Start(ctx, budget, true)
	defer stop()
	cpu0, t0 := cpuTime(b), time.Now()
	for b.Loop() {
		if err := p.handle(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
	cpu, wall := cpuTime(b)-cpu0, time.Since(t0)
	events := float64(b.N * batch)
	b.ReportMetric(events/wall.Seconds(), "events/s")
	b.ReportMetric(events/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(wall.Nanoseconds())/events, "ns/event")
}

// metricsPipeline is the pipeline of the metrics benchmarks: relabel by
// benchRelabel, remote write to url.
func metricsPipeline(b *testing.B, url string) *pipeline {
	relabel := strings.ReplaceAll(strings.TrimSpace(benchRelabel), "\n", "\n              ")
	return benchPipeline(b, fmt.Sprintf(`
collector:
  pipelines:
    metrics:
      from: {topic: metrics}
      processors:
        - relabel:
            configs:
              %s
      to: [rw]
  sinks:
    rw: {type: prometheus_remote_write, url: "%s"}
`, relabel, url))
}

// BenchmarkMetricsPipelineDiscard is BenchmarkMetricsPipelineVM's
// pipeline writing to a receiver in this process that reads and discards
// the requests: no other process, so that a profile or an instruction
// count (valgrind --tool=cachegrind on the test binary, which the VM
// benchmark's child process defeats) shows the pipeline's own work.
// Its CPU includes the receiver's reading, so it is not the figure to
// compare with vmagent's.
func BenchmarkMetricsPipelineDiscard(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	p := metricsPipeline(b, srv.URL+"/api/v1/write")
	batches := metricsBatches(b)
	perBatch := samplesIn(b, batches[0])
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := p.handle(ctx, batches[n%len(batches)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*perBatch), "ns/sample")
}

// BenchmarkMetricsPipelineVM is the metrics path: WriteRequest
// messages of 1,000 series decoded, relabelled and remote-written to a
// real VictoriaMetrics. cpu-s/M-samples is this process's CPU time (the
// collector's share; VictoriaMetrics runs in its own process). The
// sub-benchmarks are as in BenchmarkLogsPipeline, and the same job done
// by vmagent in the same run, as the baseline: see benchVMAgentRelay.
func BenchmarkMetricsPipelineVM(b *testing.B) {
	b.Run("gc=default", func(b *testing.B) { benchMetricsPipelineVM(b, 0) })
	b.Run("memory_budget=256MiB", func(b *testing.B) { benchMetricsPipelineVM(b, 256<<20) })
	b.Run("vmagent", benchVMAgentRelay)
}

// benchRelabel is the relabelling of the metrics benchmarks, as a YAML
// list both sluice and vmagent read.
const benchRelabel = `
- {source_labels: [__name__], regex: "go_gc_.*", action: drop}
- {target_label: cluster, replacement: eu-1}
- {regex: "pod_template_hash", action: labeldrop}
`

// startProcess starts a program for a benchmark, killed when it ends,
// and waits for its /health at addr.
func startProcess(b *testing.B, addr, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(testbin.Require(b, name), args...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/health"); err == nil {
			resp.Body.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not ready", name)
		}
	}
}

// startVM starts a VictoriaMetrics and returns its address.
func startVM(b *testing.B) string {
	addr := testbin.FreeAddr(b)
	startProcess(b, addr, "victoria-metrics", "-storageDataPath="+b.TempDir(), "-httpListenAddr="+addr, "-loggerLevel=ERROR")
	return addr
}

// metricsBatches returns 16 batches of 10 WriteRequest messages of 1,000
// series each, one sample per series, the rounds a second apart.
func metricsBatches(b *testing.B) [][]client.Message {
	const series, perBatch = 1000, 10
	ts := time.Now().Add(-time.Hour).UnixMilli()
	makeBatch := func(round int) []client.Message {
		msgs := make([]client.Message, perBatch)
		for m := range msgs {
			wr := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, series)}
			for i := range wr.Timeseries {
				wr.Timeseries[i] = prompb.TimeSeries{
					Labels: []prompb.Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: strconv.Itoa(200 + i%5)},
						{Name: "instance", Value: fmt.Sprintf("10.0.%d.%d:9100", m, i%250)}, {Name: "job", Value: "api"},
						{Name: "method", Value: "GET"}, {Name: "path", Value: fmt.Sprintf("/api/v1/r%d", i/5)},
						{Name: "pod_template_hash", Value: "7d9f8c"}},
					Samples: []prompb.Sample{{Value: float64(round), Timestamp: ts + int64(round)*1000}},
				}
			}
			body, err := wr.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			msgs[m] = client.Message{Topic: "metrics", Body: body, Properties: map[string]string{"content-type": ContentTypeWriteRequest}}
		}
		return msgs
	}
	batches := make([][]client.Message, 16)
	for i := range batches {
		batches[i] = makeBatch(i)
	}
	return batches
}

// samplesIn counts the samples of a batch of WriteRequest messages.
func samplesIn(b *testing.B, msgs []client.Message) int {
	n := 0
	for _, m := range msgs {
		var wr prompb.WriteRequest
		if err := wr.Unmarshal(m.Body); err != nil {
			b.Fatal(err)
		}
		for _, ts := range wr.Timeseries {
			n += len(ts.Samples)
		}
	}
	return n
}

func benchMetricsPipelineVM(b *testing.B, budget int64) {
	p := metricsPipeline(b, "http://"+startVM(b)+"/api/v1/write")
	batches := metricsBatches(b)
	perBatch := samplesIn(b, batches[0])
	ctx := context.Background()
	stop := memlimit.Start(ctx, budget, true)
	defer stop()
	b.ReportAllocs()
	cpu0, t0 := cpuTime(b), time.Now()
	n := 0
	for b.Loop() {
		if err := p.handle(ctx, batches[n%len(batches)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	cpu, wall := cpuTime(b)-cpu0, time.Since(t0)
	samples := float64(n * perBatch)
	b.ReportMetric(samples/wall.Seconds(), "samples/s")
	b.ReportMetric(cpu.Seconds()/samples*1e6, "cpu-s/M-samples")
}
