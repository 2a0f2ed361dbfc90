package measure

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the clock tick of /proc's times: 100 on every Linux sluice
// runs on (node_exporter assumes the same).
const userHZ = 100

// CPU returns the user and system CPU time of process pid, all its
// threads, from /proc (10 ms resolution).
func CPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of process %d: %w", pid, err)
	}
	// The fields after the ")" that ends the command name: utime is the
	// 12th, stime the 13th (fields 14 and 15 of proc(5)).
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(rest) < 13 {
		return 0, fmt.Errorf("cpu of process %d: short /proc stat %q", pid, stat)
	}
	ut, err1 := strconv.ParseInt(rest[11], 10, 64)
	st, err2 := strconv.ParseInt(rest[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cpu of process %d: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// MemMiB returns a memory figure of /proc/pid/status in MiB: "VmHWM"
// (the peak resident set) or "VmRSS" (the current one).
func MemMiB(pid int, field string) (float64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("%s of process %d: %w", field, pid, err)
	}
	for l := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return 0, fmt.Errorf("%s of process %d: %w", field, pid, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("%s of process %d: not in /proc status", field, pid)
}

// MetricAt sums metric's series on the /metrics page at addr.
func MetricAt(ctx context.Context, addr, metric string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("%s/metrics: %w", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s/metrics: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s/metrics: status %s", addr, resp.Status)
	}
	sum, err := SumMetric(resp.Body, metric)
	if err != nil {
		return 0, fmt.Errorf("%s/metrics: %w", addr, err)
	}
	return sum, nil
}

// SumMetric sums the values of metric's series (metric{...} or metric
// alone, not metric_other) in a Prometheus text exposition; a page
// without it is an error.
func SumMetric(r io.Reader, metric string) (float64, error) {
	var sum float64
	found := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("line %q: %w", line, err)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	if !found {
		return 0, fmt.Errorf("no %s", metric)
	}
	return sum, nil
}
