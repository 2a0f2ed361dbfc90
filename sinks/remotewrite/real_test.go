package remotewrite

import (
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/internal/testbin"
	"github.com/sluicehq/sluice/pipelines/event"
)

// process is a third-party program a test runs.
type process struct {
	base string // http://addr
	log  string // its output file
}

// startProcess runs bin with args (addr is where it listens) until the
// test ends and waits until ready answers 200.
func startProcess(t testing.TB, bin, addr, ready string, args ...string) *process {
	t.Helper()
	p := &process{base: "http://" + addr, log: filepath.Join(t.TempDir(), filepath.Base(bin)+".log")}
	out, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited: %v\n%s", bin, err, p.output())
		default:
		}
		resp, err := http.Get(p.base + ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s after 30s: %v\n%s", bin, ready, err, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *process) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

func startVM(t testing.TB) *process {
	bin := testbin.Require(t, "victoria-metrics")
	addr := testbin.FreeAddr(t)
	return startProcess(t, bin, addr, "/health",
		"-storageDataPath="+filepath.Join(t.TempDir(), "vm"), "-httpListenAddr="+addr, "-loggerLevel=WARN")
}

func startPrometheus(t testing.TB) *process {
	bin := testbin.Require(t, "prometheus")
	addr := testbin.FreeAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("scrape_configs: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startProcess(t, bin, addr, "/-/ready",
		"--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--web.enable-remote-write-receiver", "--log.level=warn")
}

// getJSON GETs base+path and decodes the JSON answer into v.
func getJSON(base, path string, v any) error {
	resp, err := http.Get(base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// eventually polls check until it returns nil or 30s pass.
func eventually(t testing.TB, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testEvents are two series in two events, labels unsorted and with an
// empty one, samples out of order across the events, and a staleness
// marker ending series a. t0 is in ms.
func testEvents(t0 int64) []*event.Event {
	at := func(s int64) float64 { return float64(t0 + s*1000) }
	la := lbls("zone", "z", "__name__", "sluice_rw_test", "instance", "a", "job", "j", "empty", "")
	lb := lbls("__name__", "sluice_rw_test", "instance", "b", "job", "j", "zone", "z")
	return []*event.Event{
		metricEvent(
			prompb.TimeSeries{Labels: la, Samples: []prompb.Sample{{Timestamp: t0 + 30000, Value: staleNaN}}},
			prompb.TimeSeries{Labels: lb, Samples: samples(at(30), 30, at(45), 40.5)},
		),
		event.NewLog("ignored", time.Now(), nil),
		metricEvent(
			prompb.TimeSeries{Labels: la, Samples: samples(at(0), 1, at(15), 2)},
			prompb.TimeSeries{Labels: lb, Samples: samples(at(0), 10, at(15), -20)},
		),
	}
}

// testStart is a recent whole second: receivers refuse samples too old
// for their head block.
func testStart() int64 {
	return time.Now().Add(-10 * time.Minute).Truncate(time.Second).UnixMilli()
}

// TestVictoriaMetrics writes with v1 into a real VictoriaMetrics and
// reads the raw samples back with /api/v1/export.
func TestVictoriaMetrics(t *testing.T) {
	vm := startVM(t)
	s, set, _ := testSink(t, Config{URL: vm.base + "/api/v1/write", Shards: 2})
	t0 := testStart()
	if err := s.Write(t.Context(), testEvents(t0)); err != nil {
		t.Fatalf("Write: %v\n%s", err, vm.output())
	}
	ts := func(s int64) int64 { return t0 + s*1000 }
	want := []string{
		fmt.Sprintf(`{__name__="sluice_rw_test", instance="a", job="j", zone="z"} %d:1 %d:2 %d:stale`, ts(0), ts(15), ts(30)),
		fmt.Sprintf(`{__name__="sluice_rw_test", instance="b", job="j", zone="z"} %d:10 %d:-20 %d:30 %d:40.5`, ts(0), ts(15), ts(30), ts(45)),
	}
	eventually(t, func() error {
		if resp, err := http.Get(vm.base + "/internal/force_flush"); err == nil {
			resp.Body.Close()
		}
		got, err := vmExport(vm.base, `{__name__="sluice_rw_test"}`, t0)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("VictoriaMetrics has:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return nil
	})
	if got := counter(set, `sluice_collector_sink_samples_sent_total{sink="rw"}`); got != 7 {
		t.Errorf("samples sent %d, want 7", got)
	}
	// At 40s series a is stale: a plain NaN would be returned as NaN and
	// no sample at all as 2, from the look-back.
	got, err := promQuery(vm.base, "sluice_rw_test", ts(40))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`{__name__="sluice_rw_test", instance="b", job="j", zone="z"} ` + strconv.FormatInt(ts(40), 10) + `:30`}; !slices.Equal(got, want) {
		t.Errorf("instant query after the staleness marker:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// vmExport returns the series matching match as render does, sorted.
func vmExport(base, match string, start int64) ([]string, error) {
	q := url.Values{"match[]": {match}, "start": {strconv.FormatInt(start/1000-60, 10)}}
	resp, err := http.Get(base + "/api/v1/export?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("export: %s %v: %s", resp.Status, err, body)
	}
	var out []string
	dec := json.NewDecoder(strings.NewReader(string(body)))
	for dec.More() {
		var line struct {
			Metric     map[string]string `json:"metric"`
			Values     []json.RawMessage `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := dec.Decode(&line); err != nil {
			return nil, fmt.Errorf("export line: %w: %s", err, body)
		}
		var ls []prompb.Label
		for k, v := range line.Metric {
			ls = append(ls, prompb.Label{Name: k, Value: v})
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
		var ss []prompb.Sample
		for i, raw := range line.Values {
			v, err := parseVMValue(raw)
			if err != nil {
				return nil, err
			}
			ss = append(ss, prompb.Sample{Timestamp: line.Timestamps[i], Value: v})
		}
		out = append(out, render(ls, ss))
	}
	sort.Strings(out)
	return out, nil
}

// parseVMValue reads an exported value: a number, or null, which is how
// the JSON export writes a staleness marker (VictoriaMetrics drops other
// NaN samples when they arrive, so null is a marker).
func parseVMValue(raw json.RawMessage) (float64, error) {
	if string(raw) == "null" {
		return staleNaN, nil
	}
	return strconv.ParseFloat(string(raw), 64)
}

// promAnswer is a Prometheus query API answer.
type promAnswer struct {
	Status string `json:"status"`
	Data   struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// promQuery runs an instant query at t (ms) and renders the result:
// matrix values, or the one vector value, per series, sorted.
func promQuery(base, query string, t int64) ([]string, error) {
	q := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(t)/1000, 'f', 3, 64)}}
	var a promAnswer
	if err := getJSON(base, "/api/v1/query?"+q.Encode(), &a); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range a.Data.Result {
		var ls []prompb.Label
		for k, v := range r.Metric {
			ls = append(ls, prompb.Label{Name: k, Value: v})
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
		values := r.Values
		if len(values) == 0 {
			values = [][2]any{r.Value}
		}
		var ss []prompb.Sample
		for _, pair := range values {
			sec, _ := pair[0].(float64)
			v, err := strconv.ParseFloat(fmt.Sprint(pair[1]), 64)
			if err != nil {
				return nil, fmt.Errorf("value %v: %w", pair[1], err)
			}
			ss = append(ss, prompb.Sample{Timestamp: int64(sec*1000 + 0.5), Value: v})
		}
		out = append(out, render(ls, ss))
	}
	sort.Strings(out)
	return out, nil
}

// TestPrometheus writes with v1 into a real Prometheus and reads the
// raw samples back with a range selector; an instant query just after
// the staleness marker shows that it arrived as a marker.
func TestPrometheus(t *testing.T) {
	prom := startPrometheus(t)
	s, _, _ := testSink(t, Config{URL: prom.base + "/api/v1/write", Shards: 3})
	t0 := testStart()
	if err := s.Write(t.Context(), testEvents(t0)); err != nil {
		t.Fatalf("Write: %v\n%s", err, prom.output())
	}
	ts := func(s int64) int64 { return t0 + s*1000 }
	// Range vectors leave staleness markers out.
	want := []string{
		fmt.Sprintf(`{__name__="sluice_rw_test", instance="a", job="j", zone="z"} %d:1 %d:2`, ts(0), ts(15)),
		fmt.Sprintf(`{__name__="sluice_rw_test", instance="b", job="j", zone="z"} %d:10 %d:-20 %d:30 %d:40.5`, ts(0), ts(15), ts(30), ts(45)),
	}
	eventually(t, func() error {
		got, err := promQuery(prom.base, "sluice_rw_test[5m]", ts(60))
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("Prometheus has:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return nil
	})
	// At 40s series a is stale (without the marker the 5m look-back
	// would still give its value 2); b's last value is 30 from 30s.
	got, err := promQuery(prom.base, "sluice_rw_test", ts(40))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`{__name__="sluice_rw_test", instance="b", job="j", zone="z"} ` + strconv.FormatInt(ts(40), 10) + `:30`}; !slices.Equal(got, want) {
		t.Errorf("instant query after the staleness marker:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPrometheusManyRequests writes many series split across many small
// requests of parallel shards into a real Prometheus, which refuses any
// sample older than its series' last one: none may be refused, and all
// must be there.
func TestPrometheusManyRequests(t *testing.T) {
	const nSeries, perWrite, writes = 200, 10, 3
	prom := startPrometheus(t)
	s, set, log := testSink(t, Config{URL: prom.base + "/api/v1/write", Shards: 4, MaxSamplesPerRequest: 50})
	t0 := testStart()
	for w := range writes {
		var events []*event.Event
		for i := range perWrite {
			e := &event.Event{Kind: event.KindMetric}
			at := t0 + int64(w*perWrite+i)*1000
			for j := range nSeries {
				e.Series = append(e.Series, prompb.TimeSeries{
					Labels:  lbls("__name__", "sluice_rw_many", "id", strconv.Itoa(j)),
					Samples: []prompb.Sample{{Timestamp: at, Value: float64(i)}},
				})
			}
			events = append(events, e)
		}
		slices.Reverse(events) // merged back into order by the sink
		if err := s.Write(t.Context(), events); err != nil {
			t.Fatal(err)
		}
	}
	if got := counter(set, `sluice_collector_sink_dropped_total{sink="rw",reason="4xx"}`); got != 0 {
		t.Fatalf("Prometheus refused %d samples:\n%s", got, log)
	}
	if got := counter(set, `sluice_collector_sink_requests_total{sink="rw",code="204"}`); got < nSeries*perWrite*writes/50 {
		t.Errorf("%d requests, want at least %d", got, nSeries*perWrite*writes/50)
	}
	end := t0 + writes*perWrite*1000
	eventually(t, func() error {
		got, err := promQuery(prom.base, "sum(count_over_time(sluice_rw_many[5m]))", end)
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("{} %d:%d", end, nSeries*perWrite*writes); !slices.Equal(got, []string{want}) {
			return fmt.Errorf("Prometheus has %v, want %s", got, want)
		}
		return nil
	})
	// The check above can fail: a sample older than the series' last is
	// refused with a 400, dropped and counted.
	old := metricEvent(prompb.TimeSeries{Labels: lbls("__name__", "sluice_rw_many", "id", "0"), Samples: samples(float64(t0-1000), 1)})
	if err := s.Write(t.Context(), []*event.Event{old}); err != nil {
		t.Fatal(err)
	}
	if got := counter(set, `sluice_collector_sink_dropped_total{sink="rw",reason="4xx"}`); got != 1 {
		t.Errorf("out-of-order sample: %d dropped, want 1 (Prometheus refuses it)", got)
	}
}
