package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/internal/measure"
)

// agentBenchOpts are the flags of `sluice bench agent`.
type agentBenchOpts struct {
	files, lineSize, rate int
	lines                 int
	duration              time.Duration
	json                  bool
	scrape                bool
	sc                    scrapeBenchOpts
	// agentHTTP is the agent's http_listen: "off", or an address to
	// profile the agent at (/debug/pprof) while it is measured.
	agentHTTP string
}

// AgentBenchResult is what `sluice bench agent --json` prints.
type AgentBenchResult struct {
	Files         int     `json:"files"`
	LineSize      int     `json:"line_size"`
	Rate          int     `json:"rate"`
	Lines         int64   `json:"lines"`
	Seconds       float64 `json:"seconds"`
	LinesPerSec   float64 `json:"lines_per_second"`
	CPUSeconds    float64 `json:"agent_cpu_seconds"`
	CPUPerMillion float64 `json:"agent_cpu_seconds_per_million_lines"`
	CorePercent   float64 `json:"agent_core_percent"`
	PeakRSSMiB    float64 `json:"agent_peak_rss_mib"`
	BrokerAddr    string  `json:"broker"`
}

func benchAgentCommand() *cobra.Command {
	o := &agentBenchOpts{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Measure the agent tailing files into a broker: lines/s, CPU per million lines, peak RSS",
		Long: `Start a broker and an agent (both as child processes of this one), have the
agent tail --files files, and measure the agent process. Without --rate the
files are filled with --lines lines first and the agent reads them as fast as
it can (throughput); with --rate, lines are appended at that total rate for
--duration (cost at a steady load). Lines count once the broker stored them.

With --scrape, this process serves --targets Prometheus exporters of --series
series each, the agent scrapes them every --interval, and after --warmup the
agent's CPU per million samples stored in the broker and its RSS are measured
for --duration. Samples are the series of each stored scrape plus the 4 the
agent adds (up, scrape_duration_seconds, scrape_samples_scraped,
scrape_samples_post_metric_relabeling).

With --scrape --vmagent, vmagent is then measured the same way in the same run,
against the same exporters: victoria-metrics and vmagent (both on PATH) run as
child processes, vmagent scraping every --interval and remote writing to
victoria-metrics, and after --warmup (and once vmagent queues nothing, since
victoria-metrics lags while it registers the series) vmagent's CPU and peak RSS
are measured for --duration, its samples being those it scraped and pushed
(vmagent adds 6 per scrape). The report gives sluice's figures over vmagent's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.scrape {
				return runScrapeBenchCmd(cmd, o)
			}
			if o.sc.vmagent {
				return errors.New("bench agent: --vmagent needs --scrape")
			}
			if o.files < 1 || o.lineSize < 16 || o.rate < 0 || o.lines < 1 || o.duration <= 0 {
				return errors.New("bench agent: --files ≥ 1, --line-size ≥ 16, --lines ≥ 1, --rate ≥ 0 and --duration > 0 please")
			}
			res, err := runAgentBench(cmd.Context(), o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if o.json {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d files, %d-byte lines, rate %d/s: %d lines in %.1fs\n", res.Files, res.LineSize, res.Rate, res.Lines, res.Seconds)
			fmt.Fprintf(w, "throughput  %.0f lines/s into the broker\n", res.LinesPerSec)
			fmt.Fprintf(w, "agent CPU   %.2f s (%.2f s per million lines, %.1f%% of one core)\n", res.CPUSeconds, res.CPUPerMillion, res.CorePercent)
			fmt.Fprintf(w, "agent RSS   %.1f MiB peak\n", res.PeakRSSMiB)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.files, "files", 1, "files tailed")
	f.IntVar(&o.lineSize, "line-size", 200, "bytes per line, newline included")
	f.IntVar(&o.rate, "rate", 0, "lines per second over all files (0: pre-filled files, read as fast as possible)")
	f.IntVar(&o.lines, "lines", 2_000_000, "lines written in throughput mode")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long lines are written in --rate mode")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	f.BoolVar(&o.scrape, "scrape", false, "measure prometheus_scrape instead: --targets exporters of --series series each, served by this process")
	f.IntVar(&o.sc.targets, "targets", 100, "with --scrape: targets scraped")
	f.IntVar(&o.sc.series, "series", 1000, "with --scrape: series per target")
	f.DurationVar(&o.sc.interval, "interval", time.Second, "with --scrape: scrape interval")
	f.DurationVar(&o.sc.warmup, "warmup", 10*time.Second, "with --scrape: scraping before the measurement starts")
	f.BoolVar(&o.sc.vmagent, "vmagent", false, "with --scrape: then measure vmagent (into victoria-metrics) scraping the same exporters, a baseline from the same run")
	f.StringVar(&o.agentHTTP, "agent-http", "off", "the agent's http_listen, to profile it while it is measured (go tool pprof http://ADDR/debug/pprof/heap)")
	return cmd
}

func runAgentBench(ctx context.Context, o *agentBenchOpts, log io.Writer) (*AgentBenchResult, error) {
	broker, err := startChildBroker(ctx, "sync", false)
	if err != nil {
		return nil, err
	}
	defer broker.stop()
	dir, err := os.MkdirTemp("", "sluice-bench-agent-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	logDir := filepath.Join(dir, "logs")
	os.MkdirAll(logDir, 0o755)
	line := strings.Repeat("x", o.lineSize-1)
	paths := make([]string, o.files)
	for i := range paths {
		paths[i] = filepath.Join(logDir, fmt.Sprintf("app-%03d.log", i))
	}
	total := int64(0)
	if o.rate == 0 {
		if total, err = fillFiles(paths, line, o.lines); err != nil {
			return nil, err
		}
	}
	agent, err := startChildAgent(dir, broker.addr, logDir, o.agentHTTP)
	if err != nil {
		return nil, err
	}
	defer agent.stop()
	c, err := client.New(client.Config{Addr: broker.addr, ClientName: "sluice-bench"})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	start := time.Now()
	if o.rate > 0 {
		if total, err = writeAtRate(ctx, paths, line, o.rate, o.duration); err != nil {
			return nil, err
		}
	}
	if err := waitStored(ctx, c, total, 5*time.Minute); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	cpu, rss, err := procUsage(agent.proc.Pid)
	if err != nil {
		return nil, err
	}
	secs := elapsed.Seconds()
	return &AgentBenchResult{Files: o.files, LineSize: o.lineSize, Rate: o.rate, Lines: total, Seconds: secs,
		LinesPerSec: float64(total) / secs, CPUSeconds: cpu, CPUPerMillion: cpu / float64(total) * 1e6,
		CorePercent: cpu / secs * 100, PeakRSSMiB: rss, BrokerAddr: broker.addr}, nil
}

// fillFiles writes n lines spread over paths.
func fillFiles(paths []string, line string, n int) (int64, error) {
	for i, p := range paths {
		f, err := os.Create(p)
		if err != nil {
			return 0, err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for j := i; j < n; j += len(paths) {
			w.WriteString(line)
			w.WriteByte('\n')
		}
		if err := errors.Join(w.Flush(), f.Close()); err != nil {
			return 0, err
		}
	}
	return int64(n), nil
}

// writeAtRate appends lines round-robin over paths at rate lines/s.
func writeAtRate(ctx context.Context, paths []string, line string, rate int, d time.Duration) (int64, error) {
	files := make([]*os.File, len(paths))
	for i, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		files[i] = f
	}
	const tick = 10 * time.Millisecond
	perTick := max(rate*int(tick)/int(time.Second), 1)
	buf := []byte(line + "\n")
	var written int64
	t := time.NewTicker(tick)
	defer t.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range perTick {
			if _, err := files[(int(written)+i)%len(files)].Write(buf); err != nil {
				return written, err
			}
		}
		written += int64(perTick)
		select {
		case <-t.C:
		case <-ctx.Done():
			return written, ctx.Err()
		}
	}
	return written, nil
}

// waitStored waits until the broker holds want messages in topic "bench".
func waitStored(ctx context.Context, c *client.Client, want int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var got int64
		if info, err := c.DescribeTopic(ctx, "bench"); err == nil {
			for _, q := range info.QueueInfo {
				got += q.Max - q.Min
			}
		}
		if got >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench agent: the broker holds %d of %d lines after %v", got, want, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startChildAgent runs `sluice agent` tailing logDir/*.log into topic bench.
func startChildAgent(dir, broker, logDir, httpListen string) (*childBroker, error) {
	yaml := fmt.Sprintf("agent:\n  broker: %s\n  http_listen: %q\n  spool: {dir: %s}\n  sources:\n    bench: {type: file, include: [\"%s/*.log\"], start_at: beginning, topic: bench}\n",
		broker, httpListen, filepath.Join(dir, "spool"), logDir)
	return startAgentChild(dir, yaml)
}

// startAgentChild runs `sluice agent` (this executable) on the config
// yaml, written to dir/agent.yaml; its output goes to dir/agent.log.
func startAgentChild(dir, yaml string) (*childBroker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "agent", "-c", cfg)
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	a := &childBroker{proc: cmd.Process, done: make(chan struct{})} // no dir: the caller removes it
	go func() { cmd.Wait(); close(a.done) }()
	return a, nil
}

// procUsage returns the CPU seconds (user + system) and the peak RSS in
// MiB of a running process, from /proc.
func procUsage(pid int) (float64, float64, error) {
	cpu, err := measure.CPU(pid)
	if err != nil {
		return 0, 0, err
	}
	peak, err := measure.MemMiB(pid, "VmHWM")
	if err != nil {
		return 0, 0, err
	}
	return cpu.Seconds(), peak, nil
}
