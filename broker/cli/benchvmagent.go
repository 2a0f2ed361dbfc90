package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/measure"
)

// VMAgentBaseline is vmagent measured by `sluice bench agent --scrape
// --vmagent` against the same exporters, right after the sluice agent,
// because only a baseline from the same run on the same (noisy) machine
// makes a fair ratio.
type VMAgentBaseline struct {
	Seconds       float64 `json:"seconds"`
	Samples       int64   `json:"samples_pushed"`
	SamplesPerSec float64 `json:"samples_per_second"`
	// DeliveredPerSec is what VictoriaMetrics took in meanwhile: a check
	// only, as it measures VictoriaMetrics as much as vmagent.
	DeliveredPerSec float64 `json:"samples_into_victoria_metrics_per_second"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUPerMillion   float64 `json:"cpu_seconds_per_million_samples"`
	PeakRSSMiB      float64 `json:"peak_rss_mib"`
	// RSSMiB is at the window's end: the peak comes from the start, when
	// vmagent buffers what VictoriaMetrics is still too busy to take, so
	// it varies from run to run (158 and 241 MiB in two runs).
	RSSMiB float64 `json:"rss_mib"`
}

// vmagentSyntheticSeries are what vmagent 1.79 adds per scrape: up,
// scrape_duration_seconds, scrape_samples_scraped,
// scrape_samples_post_metric_relabeling, scrape_series_added and
// scrape_timeout_seconds (seen in VictoriaMetrics' /api/v1/series). The
// sluice agent adds 4 (syntheticSeries), so vmagent delivers 2 samples
// more per scrape for the same page: 0.2% at 1,000 series per target.
const vmagentSyntheticSeries = 6

// vmBinaries returns the paths of victoria-metrics and vmagent, or an
// error naming the one missing.
func vmBinaries() (vm, vmagent string, err error) {
	for _, b := range []struct {
		name string
		path *string
	}{{"victoria-metrics", &vm}, {"vmagent", &vmagent}} {
		if *b.path, err = exec.LookPath(b.name); err != nil {
			return "", "", fmt.Errorf("bench agent --vmagent: %s is not on PATH (Debian: apt-get install -y victoria-metrics): %w", b.name, err)
		}
	}
	return vm, vmagent, nil
}

// measureVMAgent runs victoria-metrics and vmagent (child processes) with
// vmagent scraping targets every o.interval into VictoriaMetrics, and
// after o.warmup, and once vmagent's queue to VictoriaMetrics is empty,
// measures vmagent for o.duration as measureScrapeAgent measures the
// sluice agent. VictoriaMetrics' own CPU is not counted, as the broker's
// is not on the sluice side.
func measureVMAgent(ctx context.Context, o *scrapeBenchOpts, targets []string, log io.Writer) (*VMAgentBaseline, error) {
	vmBin, agentBin, err := vmBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-bench-vmagent-")
	if err != nil {
		return nil, fmt.Errorf("bench agent --vmagent: %w", err)
	}
	defer os.RemoveAll(dir)
	vmAddr, err := freeAddr()
	if err != nil {
		return nil, fmt.Errorf("bench agent --vmagent: a port for victoria-metrics: %w", err)
	}
	vm, err := startVMChild(ctx, dir, vmBin, vmAddr, "-storageDataPath="+filepath.Join(dir, "vm-data"),
		"-httpListenAddr="+vmAddr, "-loggerLevel=ERROR")
	if err != nil {
		return nil, err
	}
	defer vm.stop()
	agent, err := startVMAgent(ctx, dir, agentBin, vmAddr, targets, o.interval)
	if err != nil {
		return nil, err
	}
	defer agent.stop()
	fmt.Fprintf(log, "vmagent: warming up for %v\n", o.warmup)
	if !sleepCtx(ctx, o.warmup) {
		return nil, ctx.Err()
	}
	if err := waitQueueEmpty(ctx, agent, time.Minute, log); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "vmagent: measuring for %v\n", o.duration)
	return measureVMAgentWindow(ctx, vm.addr, agent, o.duration, log)
}

// measureVMAgentWindow measures vmagent for d.
//
// What is counted: the samples vmagent pushed to its remote write queue
// in the window (vmagent_remotewrite_rows_pushed_after_relabel_total),
// i.e. those it scraped, synthetic series included, as the sluice side
// counts the samples of the scrapes the broker stored. Not the rows
// VictoriaMetrics inserted: on this 2-core machine VictoriaMetrics, busy
// registering series or starved by other work, took in 121k/s in one 10 s
// window (catching up) and 26k/s in another, while vmagent scraped
// 100.6k/s in both. Those rows are kept as DeliveredPerSec, a check.
func measureVMAgentWindow(ctx context.Context, vmAddr string, agent *vmChild, d time.Duration, log io.Writer) (*VMAgentBaseline, error) {
	pushed0, rows0, cpu0, err := vmagentReadings(ctx, vmAddr, agent)
	if err != nil {
		return nil, err
	}
	// The window runs from reading to reading, not over the sleep alone:
	// on a loaded machine /metrics can take a second or more to answer.
	start := time.Now()
	if !sleepCtx(ctx, d) {
		return nil, ctx.Err()
	}
	pushed1, rows1, cpu1, err := vmagentReadings(ctx, vmAddr, agent)
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	_, peak, err := procUsage(agent.proc.Pid)
	if err != nil {
		return nil, err
	}
	rss, err := measure.MemMiB(agent.proc.Pid, "VmRSS")
	if err != nil {
		return nil, err
	}
	samples := int64(pushed1 - pushed0)
	if samples <= 0 {
		return nil, fmt.Errorf("bench agent --vmagent: vmagent pushed no samples in %v; its log: %s", d, logTail(agent.log))
	}
	delivered := rows1 - rows0
	if r := delivered / float64(samples); r < 0.9 || r > 1.1 {
		fmt.Fprintf(log, "vmagent: victoria-metrics took in %.0f%% of the samples vmagent pushed in the window: it is behind, the machine busy\n", r*100)
	}
	cpu := cpu1 - cpu0
	return &VMAgentBaseline{Seconds: secs, Samples: samples, SamplesPerSec: float64(samples) / secs, DeliveredPerSec: delivered / secs,
		CPUSeconds: cpu, CPUPerMillion: cpu / float64(samples) * 1e6, PeakRSSMiB: peak, RSSMiB: rss}, nil
}

// vmagentReadings reads the samples vmagent pushed, the rows
// VictoriaMetrics inserted and vmagent's CPU seconds, in that order.
func vmagentReadings(ctx context.Context, vmAddr string, agent *vmChild) (pushed, rows, cpu float64, err error) {
	if pushed, err = metricSum(ctx, agent.addr, "vmagent_remotewrite_rows_pushed_after_relabel_total"); err != nil {
		return 0, 0, 0, err
	}
	if rows, err = metricSum(ctx, vmAddr, "vm_rows_inserted_total"); err != nil {
		return 0, 0, 0, err
	}
	if cpu, _, err = procUsage(agent.proc.Pid); err != nil {
		return 0, 0, 0, err
	}
	return pushed, rows, cpu, nil
}

// waitQueueEmpty waits until vmagent holds no data for VictoriaMetrics.
// VictoriaMetrics registers a new series slowly: at 100 targets x 1,000
// series it falls behind for the first ~8 s and vmagent queues several
// MB; a window starting then would charge vmagent for sending that
// backlog.
func waitQueueEmpty(ctx context.Context, agent *vmChild, within time.Duration, log io.Writer) error {
	start := time.Now()
	for {
		// An unanswered /metrics is tried again: vmagent busy with its
		// backlog on a loaded machine answered none within 5 s once.
		pending, err := metricSum(ctx, agent.addr, "vmagent_remotewrite_pending_data_bytes")
		if err == nil && pending == 0 {
			if waited := time.Since(start); waited > time.Second {
				fmt.Fprintf(log, "vmagent: its queue to victoria-metrics emptied %.1fs after the warm-up\n", waited.Seconds())
			}
			return nil
		}
		if time.Since(start) > within {
			if err != nil {
				return fmt.Errorf("bench agent --vmagent: vmagent's queue %v after the warm-up: %w", within, err)
			}
			return fmt.Errorf("bench agent --vmagent: vmagent still queues %.0f bytes for victoria-metrics %v after the warm-up: victoria-metrics does not keep up here", pending, within)
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// startVMAgent writes a scrape config of one job over targets, with the
// timeout equal to the interval as the sluice agent is configured, and
// runs vmagent on it, remote writing to VictoriaMetrics at vmAddr.
func startVMAgent(ctx context.Context, dir, bin, vmAddr string, targets []string, interval time.Duration) (*vmChild, error) {
	// Milliseconds, because Go's "1m0s" is not a Prometheus duration.
	iv := fmt.Sprintf("%dms", interval.Milliseconds())
	cfg := fmt.Sprintf("scrape_configs:\n  - job_name: bench\n    scrape_interval: %s\n    scrape_timeout: %s\n"+
		"    static_configs:\n      - targets: [\"%s\"]\n", iv, iv, strings.Join(targets, `", "`))
	cfgPath := filepath.Join(dir, "scrape.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("bench agent --vmagent: write vmagent's scrape config: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, fmt.Errorf("bench agent --vmagent: a port for vmagent: %w", err)
	}
	return startVMChild(ctx, dir, bin, addr, "-httpListenAddr="+addr, "-promscrape.config="+cfgPath,
		"-remoteWrite.url=http://"+vmAddr+"/api/v1/write", "-remoteWrite.tmpDataPath="+filepath.Join(dir, "vmagent-data"),
		"-loggerLevel=ERROR")
}

// vmChild is a victoria-metrics or vmagent child process.
type vmChild struct {
	name string
	addr string // its -httpListenAddr
	log  string
	proc *os.Process
	done chan struct{} // closed once the process has been waited for
}

// startVMChild runs bin with args, its output in dir/<name>.log, and
// waits until it answers /health at addr.
func startVMChild(ctx context.Context, dir, bin, addr string, args ...string) (*vmChild, error) {
	name := filepath.Base(bin)
	c := &vmChild{name: name, addr: addr, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(c.log)
	if err != nil {
		return nil, fmt.Errorf("bench agent --vmagent: %s's log: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench agent --vmagent: start %s: %w", name, err)
	}
	c.proc = cmd.Process
	go func() { cmd.Wait(); close(c.done) }()
	if err := c.waitHealthy(ctx, 15*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *vmChild) waitHealthy(ctx context.Context, within time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+"/health", nil)
		if err != nil {
			return fmt.Errorf("bench agent --vmagent: %s's /health: %w", c.name, err)
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-c.done:
			return fmt.Errorf("bench agent --vmagent: %s exited at start: %s", c.name, logTail(c.log))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench agent --vmagent: %s at %s not healthy after %v: %w", c.name, c.addr, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the process and waits for it: its data is in a temporary
// directory that goes anyway, so a graceful shutdown buys nothing.
func (c *vmChild) stop() {
	c.proc.Kill()
	<-c.done
}

// metricSum sums the series of metric (e.g. vm_rows_inserted_total, one
// per ingestion protocol) on /metrics at addr.
func metricSum(ctx context.Context, addr, metric string) (float64, error) {
	sum, err := measure.MetricAt(ctx, addr, metric)
	if err != nil {
		return 0, fmt.Errorf("bench agent --vmagent: %w", err)
	}
	return sum, nil
}

// logTail returns the last lines of a child's log for an error message,
// since the log's directory is removed when the bench returns.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return "(empty)"
	}
	return string(b)
}
