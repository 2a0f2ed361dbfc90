package hostmetrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/agent/source"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeStatfs answers statfs from a table; other paths do not exist.
func fakeStatfs(table map[string]syscall.Statfs_t) func(string, *syscall.Statfs_t) error {
	return func(path string, st *syscall.Statfs_t) error {
		v, ok := table[path]
		if !ok {
			return syscall.ENOENT
		}
		*st = v
		return nil
	}
}

func newFixtureCollector(t *testing.T, collectors ...string) *Collector {
	t.Helper()
	c, err := New(Config{
		Topic: "metrics", Instance: "h", ProcPath: "testdata/proc", SysPath: "testdata/sys", RootfsPath: "/host",
		Collectors: collectors, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.statfs = fakeStatfs(map[string]syscall.Statfs_t{
		"/host":             {Bsize: 4096, Blocks: 1000, Bfree: 600, Bavail: 500, Files: 64, Ffree: 40},
		"/host/mnt/tools":   {Bsize: 4096, Blocks: 1, Bfree: 1, Bavail: 1, Files: 10, Ffree: 9},
		"/host/srv/my data": {Bsize: 512, Blocks: 8, Bfree: 4, Bavail: 2, Files: 3, Ffree: 1},
		"/host/run":         {Bsize: 4096, Blocks: 100, Bfree: 100, Bavail: 100, Files: 5, Ffree: 5},
	})
	return c
}

func TestCollectFilesystems(t *testing.T) {
	c := newFixtureCollector(t, CollectorFilesystem)
	series, err := c.Collect(time.UnixMilli(5000))
	if err != nil {
		t.Fatal(err)
	}
	// Left out: pseudo filesystems, /dev, /sys, docker's overlay; the
	// second mount of /srv/my data; /gone cannot be statfs()ed.
	root := `device="/dev/vda",fstype="ext4",instance="h",job="node",mountpoint="/"`
	tools := `device="tools",fstype="tmpfs",instance="h",job="node",mountpoint="/mnt/tools"`
	srv := `device="/dev/vdb",fstype="xfs",instance="h",job="node",mountpoint="/srv/my data"`
	run := `device="tmpfs",fstype="tmpfs",instance="h",job="node",mountpoint="/run"`
	gone := `device="/dev/vdc",fstype="ext4",instance="h",job="node",mountpoint="/gone"`
	want := []string{}
	for _, fs := range []struct {
		lbl                          string
		size, free, avail, files, ff string
		ro                           string
	}{
		{root, "4096000", "2457600", "2048000", "64", "40", "0"},
		{tools, "4096", "4096", "4096", "10", "9", "1"},
		{srv, "4096", "2048", "1024", "3", "1", "0"},
		{run, "409600", "409600", "409600", "5", "5", "0"},
	} {
		if fs.lbl == run {
			want = append(want, `node_filesystem_device_error{`+gone+`} 1`)
		}
		want = append(want,
			`node_filesystem_device_error{`+fs.lbl+`} 0`,
			`node_filesystem_size_bytes{`+fs.lbl+`} `+fs.size,
			`node_filesystem_free_bytes{`+fs.lbl+`} `+fs.free,
			`node_filesystem_avail_bytes{`+fs.lbl+`} `+fs.avail,
			`node_filesystem_files{`+fs.lbl+`} `+fs.files,
			`node_filesystem_files_free{`+fs.lbl+`} `+fs.ff,
			`node_filesystem_readonly{`+fs.lbl+`} `+fs.ro,
		)
	}
	got := render(series)
	got = slices.DeleteFunc(got, func(s string) bool { return strings.HasPrefix(s, "node_scrape_") })
	// /gone comes after /srv in the mount table, before /run.
	if !slices.Equal(got, reorderGone(want)) {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(reorderGone(want), "\n"))
	}
}

// reorderGone keeps the expectation readable: the table above lists the
// healthy filesystems, the mount table has /gone last.
func reorderGone(want []string) []string {
	out := slices.DeleteFunc(slices.Clone(want), func(s string) bool { return strings.Contains(s, `"/gone"`) })
	for _, s := range want {
		if strings.Contains(s, `"/gone"`) {
			out = append(out, s)
		}
	}
	return out
}

func TestCollectNetClass(t *testing.T) {
	c := newFixtureCollector(t, CollectorNetclass)
	series, err := c.Collect(time.UnixMilli(1))
	if err != nil {
		t.Fatal(err)
	}
	got := slices.DeleteFunc(render(series), func(s string) bool { return strings.HasPrefix(s, "node_scrape_") })
	// bonding_masters is a file, not an interface; ifb0 (down) has no
	// carrier or speed; lo's speed is -1 (unknown) and its alias empty.
	eth, ifb, lo := `device="eth0",instance="h",job="node"`, `device="ifb0",instance="h",job="node"`, `device="lo",instance="h",job="node"`
	want := []string{
		`node_network_up{` + eth + `} 1`,
		`node_network_flags{` + eth + `} 4099`,
		`node_network_mtu_bytes{` + eth + `} 1400`,
		`node_network_speed_bytes{` + eth + `} 1250000000`,
		`node_network_carrier{` + eth + `} 1`,
		`node_network_transmit_queue_length{` + eth + `} 1000`,
		`node_network_protocol_type{` + eth + `} 1`,
		`node_network_info{address="02:fc:00:00:00:01",adminstate="up",broadcast="ff:ff:ff:ff:ff:ff",device="eth0",duplex="full",ifalias="uplink",instance="h",job="node",operstate="up"} 1`,
		`node_network_up{` + ifb + `} 0`,
		`node_network_flags{` + ifb + `} 130`,
		`node_network_mtu_bytes{` + ifb + `} 1500`,
		`node_network_transmit_queue_length{` + ifb + `} 32`,
		`node_network_protocol_type{` + ifb + `} 1`,
		`node_network_info{address="86:f7:12:19:dd:d1",adminstate="down",broadcast="ff:ff:ff:ff:ff:ff",device="ifb0",instance="h",job="node",operstate="down"} 1`,
		`node_network_up{` + lo + `} 0`,
		`node_network_flags{` + lo + `} 9`,
		`node_network_mtu_bytes{` + lo + `} 65536`,
		`node_network_carrier{` + lo + `} 1`,
		`node_network_transmit_queue_length{` + lo + `} 1000`,
		`node_network_protocol_type{` + lo + `} 772`,
		`node_network_info{address="00:00:00:00:00:00",adminstate="up",broadcast="00:00:00:00:00:00",device="lo",instance="h",job="node",operstate="unknown"} 1`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNetClassBadAttribute(t *testing.T) {
	sys := t.TempDir()
	dir := filepath.Join(sys, "class", "net", "eth0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for file, v := range map[string]string{"operstate": "up\n", "mtu": "15x0\n"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(Config{Topic: "m", Instance: "h", SysPath: sys, Collectors: []string{CollectorNetclass}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	series, err := c.Collect(time.UnixMilli(1))
	want := "collector netclass: parse " + filepath.Join(dir, "mtu") + ` line 1: mtu "15x0" is not a number`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if got := render(series); len(got) != 2 || !strings.HasPrefix(got[1], `node_scrape_collector_success{collector="netclass"`) || !strings.HasSuffix(got[1], " 0") {
		t.Fatalf("got %v", got)
	}
}

// TestCollectFixtureTree runs every collector over testdata/proc: each
// succeeds, every series has the pass's timestamp, job and instance.
func TestCollectFixtureTree(t *testing.T) {
	c := newFixtureCollector(t)
	now := time.UnixMilli(1_700_000_000_123)
	series, err := c.Collect(now)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, s := range series {
		checkSeries(t, s, now.UnixMilli())
		count[s.Labels[0].Value]++
	}
	for name, n := range map[string]int{
		"node_cpu_seconds_total":           16,
		"node_cpu_guest_seconds_total":     4,
		"node_boot_time_seconds":           1,
		"node_memory_MemTotal_bytes":       1,
		"node_memory_HugePages_Total":      1,
		"node_load15":                      1,
		"node_disk_reads_completed_total":  4, // vda, sda, nvme0n1, dm-0
		"node_disk_flush_requests_total":   2, // vda, dm-0
		"node_filesystem_size_bytes":       4,
		"node_network_receive_bytes_total": 2,
		"node_network_up":                  3,
		"node_uname_info":                  1,
		"node_time_seconds":                1,
		"node_scrape_collector_success":    len(AllCollectors),
	} {
		if count[name] != n {
			t.Errorf("%d series %s, want %d", count[name], name, n)
		}
	}
	for _, line := range render(series) {
		if strings.HasPrefix(line, "node_scrape_collector_success") && !strings.HasSuffix(line, " 1") {
			t.Errorf("collector failed: %s", line)
		}
		if strings.HasPrefix(line, "node_time_seconds") && line != `node_time_seconds{instance="h",job="node"} 1700000000.123` {
			t.Errorf("got %s", line)
		}
	}
}

// checkSeries checks what remote-write receivers require of a series:
// a name, sorted unique label names, no empty or invalid value, and here
// one sample at the pass's timestamp.
func checkSeries(t testing.TB, s prompb.TimeSeries, ts int64) {
	t.Helper()
	if len(s.Labels) == 0 || s.Labels[0].Name != "__name__" || s.Labels[0].Value == "" {
		t.Fatalf("series %v has no name first", s.Labels)
	}
	var job, inst bool
	for i, l := range s.Labels {
		if l.Value == "" {
			t.Fatalf("series %v: label %s is empty", s.Labels, l.Name)
		}
		if i > 0 && l.Name <= s.Labels[i-1].Name {
			t.Fatalf("series %v: labels not sorted", s.Labels)
		}
		job = job || l.Name == "job"
		inst = inst || l.Name == "instance"
	}
	if !job || !inst {
		t.Fatalf("series %v: no job or instance", s.Labels)
	}
	if len(s.Samples) != 1 || s.Samples[0].Timestamp != ts {
		t.Fatalf("series %v: samples %v, want one at %d", s.Labels, s.Samples, ts)
	}
}

// TestCollectFailures checks that a missing or garbled file fails its
// collector alone: no partial series, success 0, an error naming it.
func TestCollectFailures(t *testing.T) {
	dir := t.TempDir()
	proc := filepath.Join(dir, "proc")
	if err := os.MkdirAll(proc, 0o755); err != nil {
		t.Fatal(err)
	}
	// meminfo turns bad on line 3, after two good lines.
	if err := os.WriteFile(filepath.Join(proc, "meminfo"), []byte("MemTotal: 1 kB\nMemFree: 1 kB\nBad line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "loadavg"), []byte("1 2 3 1/1 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Topic: "m", Instance: "h", ProcPath: proc, Logger: quietLogger(),
		Collectors: []string{CollectorMeminfo, CollectorLoadavg, CollectorDiskstats}})
	if err != nil {
		t.Fatal(err)
	}
	series, err := c.Collect(time.UnixMilli(1))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"collector meminfo: parse " + filepath.Join(proc, "meminfo") + " line 3: ",
		"collector diskstats: open " + filepath.Join(proc, "diskstats") + ": no such file or directory",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 3 {
		t.Errorf("error %v: want a ParseError of line 3", err)
	}
	got := slices.DeleteFunc(render(series), func(s string) bool {
		return strings.HasPrefix(s, "node_scrape_collector_duration_seconds")
	})
	want := []string{
		`node_scrape_collector_success{collector="meminfo",instance="h",job="node"} 0`,
		`node_load1{instance="h",job="node"} 1`,
		`node_load5{instance="h",job="node"} 2`,
		`node_load15{instance="h",job="node"} 3`,
		`node_scrape_collector_success{collector="loadavg",instance="h",job="node"} 1`,
		`node_scrape_collector_success{collector="diskstats",instance="h",job="node"} 0`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCollectReusesBuffers checks that a second pass gives the same
// series as the first although it reuses the first's memory.
func TestCollectReusesBuffers(t *testing.T) {
	c := newFixtureCollector(t, CollectorCPU, CollectorMeminfo, CollectorDiskstats, CollectorNetdev, CollectorFilesystem)
	s1, err := c.Collect(time.UnixMilli(1))
	if err != nil {
		t.Fatal(err)
	}
	first := render(s1)
	s2, err := c.Collect(time.UnixMilli(1))
	if err != nil {
		t.Fatal(err)
	}
	second := render(s2)
	// Durations differ from pass to pass; the rest must not.
	drop := func(s string) bool { return strings.HasPrefix(s, "node_scrape_collector_duration") }
	if !slices.Equal(slices.DeleteFunc(first, drop), slices.DeleteFunc(second, drop)) {
		t.Fatal("second pass differs from the first")
	}
}

// recorder is an Emitter keeping what it is given.
type recorder struct {
	mu     sync.Mutex
	emits  [][]source.Record
	cancel context.CancelFunc
	after  int // cancel once this many batches arrived
}

func (r *recorder) Emit(ctx context.Context, recs []source.Record, ack func(error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emits = append(r.emits, recs)
	if len(r.emits) == r.after {
		r.cancel()
	}
	if ack != nil {
		ack(nil)
	}
	return nil
}

func TestRun(t *testing.T) {
	c := newFixtureCollector(t)
	c.cfg.Interval = 10 * time.Millisecond // below what Validate allows, to keep the test short
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{cancel: cancel, after: 2}
	if err := c.Run(ctx, rec); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rec.emits) != 2 {
		t.Fatalf("%d batches, want 2", len(rec.emits))
	}
	var stamps []int64
	for _, recs := range rec.emits {
		if len(recs) != 1 {
			t.Fatalf("%d records in a pass, want 1", len(recs))
		}
		r := recs[0]
		if r.Topic != "metrics" || r.Key != "node/h" || r.Properties[source.PropContentType] != source.ContentTypeWriteRequest {
			t.Fatalf("record topic %q key %q properties %v", r.Topic, r.Key, r.Properties)
		}
		var wr prompb.WriteRequest
		if err := wr.Unmarshal(r.Body); err != nil {
			t.Fatalf("body does not decode: %v", err)
		}
		if len(wr.Timeseries) < 100 {
			t.Fatalf("only %d series", len(wr.Timeseries))
		}
		ts := wr.Timeseries[0].Samples[0].Timestamp
		if ts != r.Time.UnixMilli() {
			t.Fatalf("sample time %d, record time %v", ts, r.Time)
		}
		for _, s := range wr.Timeseries {
			checkSeries(t, s, ts)
		}
		stamps = append(stamps, ts)
	}
	if stamps[1] <= stamps[0] {
		t.Fatalf("second pass at %d, first at %d", stamps[1], stamps[0])
	}
}

// TestRunSplitsLargePasses checks that a pass of more series than a
// record takes goes out as several records of one batch, in order.
func TestRunSplitsLargePasses(t *testing.T) {
	c := newFixtureCollector(t)
	series, err := c.Collect(time.UnixMilli(7))
	if err != nil {
		t.Fatal(err)
	}
	many := make([]prompb.TimeSeries, 0, 2*maxSeriesPerRecord+10)
	for len(many) < cap(many) {
		many = append(many, series[len(many)%len(series)])
	}
	recs, err := c.records(many, time.UnixMilli(7))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	n := 0
	for _, r := range recs {
		var wr prompb.WriteRequest
		if err := wr.Unmarshal(r.Body); err != nil {
			t.Fatal(err)
		}
		for _, s := range wr.Timeseries {
			if s.Labels[0].Value != many[n].Labels[0].Value {
				t.Fatalf("series %d is %s, want %s", n, s.Labels[0].Value, many[n].Labels[0].Value)
			}
			n++
		}
	}
	if n != len(many) {
		t.Fatalf("%d series in the records, want %d", n, len(many))
	}
}

// TestRunStopsDuringEmit checks that Run returns nil when ctx ends while
// Emit is blocked by back-pressure.
func TestRunStopsDuringEmit(t *testing.T) {
	c := newFixtureCollector(t, CollectorLoadavg)
	ctx, cancel := context.WithCancel(context.Background())
	blocked := source.EmitterFunc(func(ctx context.Context, _ []source.Record, _ func(error)) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	if err := c.Run(ctx, blocked); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestRunReportsEmitterFailure checks that an emitter failing for
// another reason than ctx ends Run with that error.
func TestRunReportsEmitterFailure(t *testing.T) {
	c := newFixtureCollector(t, CollectorLoadavg)
	boom := errors.New("shipper closed")
	err := c.Run(context.Background(), source.EmitterFunc(func(context.Context, []source.Record, func(error)) error {
		return boom
	}))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "host_metrics host_metrics: emit: ") {
		t.Fatalf("got %v", err)
	}
}

// TestCollectRealProc runs every collector against this machine.
func TestCollectRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc here")
	}
	c, err := New(Config{Topic: "metrics", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	series, err := c.Collect(now)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	cpus := map[string]bool{}
	for _, s := range series {
		checkSeries(t, s, now.UnixMilli())
		values[s.Labels[0].Value] = s.Samples[0].Value
		if s.Labels[0].Value == "node_cpu_seconds_total" {
			for _, l := range s.Labels {
				if l.Name == "cpu" {
					cpus[l.Value] = true
				}
			}
		}
	}
	if len(cpus) == 0 {
		t.Error("no cpu")
	}
	if values["node_memory_MemTotal_bytes"] <= 0 {
		t.Errorf("MemTotal %v", values["node_memory_MemTotal_bytes"])
	}
	if values["node_memory_MemAvailable_bytes"] > values["node_memory_MemTotal_bytes"] {
		t.Error("more memory available than there is")
	}
	if bt := values["node_boot_time_seconds"]; bt <= 0 || bt > float64(now.Unix()) {
		t.Errorf("boot time %v", bt)
	}
	if values["node_context_switches_total"] <= 0 {
		t.Error("no context switches")
	}
	if _, ok := values["node_load1"]; !ok {
		t.Error("no load average")
	}
	if _, ok := values["node_network_receive_bytes_total"]; !ok {
		t.Error("no network interface")
	}
	if _, ok := values["node_network_up"]; !ok {
		t.Error("no /sys/class/net interface")
	}
	if values["node_filesystem_size_bytes"] <= 0 {
		t.Error("no filesystem with a size")
	}
	if c.key == "node/" || !strings.HasPrefix(c.key, "node/") {
		t.Errorf("key %q", c.key)
	}
}

func BenchmarkCollect(b *testing.B) {
	c, err := New(Config{Topic: "metrics", Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Collect(time.Now()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		series, err := c.Collect(time.Now())
		if err != nil {
			b.Fatal(err)
		}
		n = len(series)
	}
	b.ReportMetric(float64(n), "series/op")
}

// TestNetClassAttrsOrder guards the index arithmetic between
// netClassAttrs and netClassGauges.
func TestNetClassAttrsOrder(t *testing.T) {
	for i, g := range netClassGauges {
		if a := netClassAttrs[attrGauges+i]; a != g.file {
			t.Fatalf("attribute %d is %s, gauge %d reads %s", attrGauges+i, a, i, g.file)
		}
	}
	if netClassAttrs[attrOperstate] != "operstate" || netClassAttrs[attrFlags] != "flags" ||
		!slices.Equal(netClassAttrs[attrInfo:], []string{"address", "broadcast", "duplex", "ifalias"}) {
		t.Fatalf("attributes %v", netClassAttrs)
	}
}

// TestRunLogsFailureChanges checks that a failing collector is logged
// when it starts failing and when it recovers, not on every pass, and
// that each failed pass is counted.
func TestRunLogsFailureChanges(t *testing.T) {
	proc := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(proc, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("loadavg", "garbage\n")
	var logs strings.Builder
	set := metrics.NewSet()
	c, err := New(Config{Name: "node", Topic: "m", Instance: "h", ProcPath: proc, Collectors: []string{CollectorLoadavg},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	c.cfg.Interval = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	passes := 0
	// Emit runs in Run's goroutine, between passes: the file changes
	// there are seen by the next pass. Passes 1-3 fail, 4-5 succeed.
	err = c.Run(ctx, source.EmitterFunc(func(ctx context.Context, recs []source.Record, _ func(error)) error {
		passes++
		switch passes {
		case 3:
			write("loadavg", "1 2 3 1/1 1\n")
		case 5:
			cancel()
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if n := strings.Count(out, "host metrics collector failing"); n != 1 {
		t.Errorf("%d failure lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "host metrics collector recovered"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, `line 1: want 3 load averages, got \"garbage\"`) {
		t.Errorf("failure line does not say why:\n%s", out)
	}
	var sb strings.Builder
	set.WritePrometheus(&sb)
	for _, want := range []string{
		`sluice_agent_hostmetrics_collector_errors_total{source="node",collector="loadavg"} 3`,
		`sluice_agent_hostmetrics_passes_total{source="node"} 5`,
		`sluice_agent_hostmetrics_records_total{source="node"} 5`,
	} {
		if !strings.Contains(sb.String(), want+"\n") {
			t.Errorf("metrics lack %s:\n%s", want, sb.String())
		}
	}
}

// BenchmarkRecords measures encoding one pass into records, the other
// half of Run's work.
func BenchmarkRecords(b *testing.B) {
	c, err := New(Config{Topic: "metrics", Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	series, err := c.Collect(now)
	if err != nil {
		b.Fatal(err)
	}
	recs, err := c.records(series, now)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(recs[0].Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.records(series, now); err != nil {
			b.Fatal(err)
		}
	}
}
