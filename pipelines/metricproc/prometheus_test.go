package metricproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/internal/rwtest"
	"github.com/sluicehq/sluice/internal/testbin"
	"github.com/sluicehq/sluice/pipelines/event"
)

// startPrometheus runs a real Prometheus that accepts remote write and
// returns its base URL once it is ready.
func startPrometheus(t *testing.T) string {
	t.Helper()
	bin := testbin.Require(t, "prometheus")
	addr := testbin.FreeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("scrape_configs: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s:\n%s", out.String())
		}
	}
}

// remoteWrite sends a metric event as a remote write 1.0 request.
func remoteWrite(t *testing.T, base string, e *event.Event) {
	t.Helper()
	body, err := (&prompb.WriteRequest{Timeseries: e.Series, Metadata: e.Metadata}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rwtest.MustPost(t, base+"/api/v1/write", snappy.Encode(nil, body))
}

// query runs an instant PromQL query at ts (ms) and renders the result
// as sorted `{labels} value` lines.
func query(t *testing.T, base, q string, ts int64) []string {
	t.Helper()
	v := url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(ts)/1000, 'f', 3, 64)}}
	resp, err := http.Get(base + "/api/v1/query?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, r.Error)
	}
	var out []string
	for _, s := range r.Data.Result {
		var ls []string
		for _, k := range sortedKeys(s.Metric) {
			ls = append(ls, fmt.Sprintf("%s=%q", k, s.Metric[k]))
		}
		out = append(out, fmt.Sprintf("{%s} %v", strings.Join(ls, ", "), s.Value[1]))
	}
	sort.Strings(out)
	return out
}

// TestLogToMetricIntoPrometheus writes what log_to_metric emits into a
// real Prometheus and checks that PromQL reads it as the counter and the
// classic histogram it is meant to be.
func TestLogToMetricIntoPrometheus(t *testing.T) {
	base := startPrometheus(t)
	p, clock, _ := newTestL2M(t, `
metrics:
  - {name: requests_total, type: counter, labels: {method: "{{ method }}"}}
  - {name: request_seconds, type: histogram, field: took, buckets: [0.1, 1, 10]}
`)
	clock.t = time.Now().Add(-time.Minute).Truncate(time.Second)
	var events []*event.Event
	for _, took := range []float64{0.05, 0.1, 0.5, 100} {
		events = append(events, logEvent(map[string]any{"method": "GET", "took": took}, nil))
	}
	events = append(events, logEvent(map[string]any{"method": "PUT", "took": 3.0}, nil))
	clock.advance(15 * time.Second)
	m := emitted(t, p.Process(events), 5)
	if m == nil {
		t.Fatal("nothing emitted")
	}
	remoteWrite(t, base, m)
	ts := clock.t.UnixMilli()
	checks := []struct {
		q    string
		want []string
	}{
		{`requests_total`, []string{
			`{__name__="requests_total", method="GET"} 4`,
			`{__name__="requests_total", method="PUT"} 1`,
		}},
		{`request_seconds_bucket{le="1.0"}`, []string{`{__name__="request_seconds_bucket", le="1.0"} 3`}},
		// Buckets: (0, 0.1] holds 0.05 and 0.1, (0.1, 1] 0.5, (1, 10] 3,
		// (10, +Inf] 100; PromQL interpolates linearly in a bucket: rank
		// 2.5 of 5 is half-way through (0.1, 1], rank 1.5 three quarters
		// through (0, 0.1].
		{`histogram_quantile(0.5, request_seconds_bucket)`, []string{`{} 0.55`}},
		{`histogram_quantile(0.3, request_seconds_bucket)`, []string{`{} 0.07500000000000001`}},
		{`request_seconds_count`, []string{`{__name__="request_seconds_count"} 5`}},
		{`request_seconds_sum`, []string{`{__name__="request_seconds_sum"} 103.65`}},
	}
	for _, c := range checks {
		if got := query(t, base, c.q, ts); !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.q, got, c.want)
		}
	}
}
