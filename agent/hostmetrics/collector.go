package hostmetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/agent/source"
)

// maxSeriesPerRecord bounds a record's WriteRequest: a pass of a large
// host (hundreds of CPUs and disks) is split rather than sent as one
// message of megabytes.
const maxSeriesPerRecord = 2000

// Collector is the host_metrics source: every Interval it reads /proc
// and statfs()es the mounted filesystems, and emits the samples as
// records keyed job/instance.
type Collector struct {
	cfg Config
	lg  *slog.Logger
	m   *sourceMetrics
	key string

	steps []step
	b     *builder
	buf   []byte // file read buffer, reused

	netClassDir string // <SysPath>/class/net
	ifacePaths  map[string]*[len(netClassAttrs)]string
	mountFiles  []string // mountinfo paths, in order of preference
	mounts      []mount
	fsTypes     map[string]bool
	fsSeen      map[fsKey]bool
	statfs      func(path string, st *syscall.Statfs_t) error // replaced by tests

	failing map[string]bool // collectors whose last pass failed, for Run's logs
}

// step is one enabled collector of a pass.
type step struct {
	name string
	run  func(c *Collector, now time.Time) error
}

// New checks cfg, applies its defaults and returns the source.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Collector{
		cfg:         cfg,
		lg:          cfg.Logger.With("source", cfg.Name),
		key:         cfg.Job + "/" + cfg.Instance,
		b:           newBuilder(cfg.Job, cfg.Instance),
		fsTypes:     make(map[string]bool),
		fsSeen:      make(map[fsKey]bool),
		statfs:      syscall.Statfs,
		failing:     make(map[string]bool),
		netClassDir: filepath.Join(cfg.SysPath, "class", "net"),
		ifacePaths:  make(map[string]*[len(netClassAttrs)]string),
		mountFiles: []string{
			filepath.Join(cfg.ProcPath, "1", "mountinfo"),
			filepath.Join(cfg.ProcPath, "self", "mountinfo"),
		},
	}
	for _, t := range cfg.FSExcludeTypes {
		c.fsTypes[t] = true
	}
	for _, name := range AllCollectors {
		if contains(cfg.Collectors, name) {
			c.steps = append(c.steps, step{name, c.stepFunc(name)})
		}
	}
	c.m = newSourceMetrics(cfg.Metrics, cfg.Name, cfg.Collectors)
	return c, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stepFunc returns the function collecting name's series.
func (c *Collector) stepFunc(name string) func(*Collector, time.Time) error {
	proc := func(parts ...string) string { return filepath.Join(append([]string{c.cfg.ProcPath}, parts...)...) }
	parse := func(file string, p func(b *builder, file string, data []byte) error) func(*Collector, time.Time) error {
		return func(c *Collector, _ time.Time) error {
			data, err := c.readFile(file)
			if err != nil {
				return err
			}
			return p(c.b, file, data)
		}
	}
	switch name {
	case CollectorCPU:
		return parse(proc("stat"), func(b *builder, file string, data []byte) error {
			return parseStat(b, file, data, true, false)
		})
	case CollectorStat:
		return parse(proc("stat"), func(b *builder, file string, data []byte) error {
			return parseStat(b, file, data, false, true)
		})
	case CollectorMeminfo:
		return parse(proc("meminfo"), parseMeminfo)
	case CollectorLoadavg:
		return parse(proc("loadavg"), parseLoadavg)
	case CollectorDiskstats:
		return parse(proc("diskstats"), parseDiskstats)
	case CollectorNetdev:
		return parse(proc("net", "dev"), parseNetDev)
	case CollectorFilesystem:
		return (*Collector).collectFilesystems
	case CollectorNetclass:
		return (*Collector).collectNetClass
	case CollectorUname:
		return func(c *Collector, _ time.Time) error { return addUname(c.b) }
	case CollectorTime:
		return func(c *Collector, now time.Time) error {
			c.b.add("node_time_seconds", float64(now.UnixMilli())/1e3) // the samples' precision
			return nil
		}
	}
	panic("hostmetrics: no step for collector " + name) // Validate lets only AllCollectors through
}

// collectFilesystems reads the mount table of pid 1 (the host's, when
// the agent shares its pid namespace), or the agent's own when pid 1's
// is hidden (hidepid), as node_exporter does.
func (c *Collector) collectFilesystems(time.Time) error {
	var data []byte
	var file string
	var err error
	for _, file = range c.mountFiles {
		if data, err = c.readFile(file); err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	c.mounts, err = parseMounts(c.b, file, data, c.mounts)
	if err != nil {
		return err
	}
	c.addFilesystems(c.b, c.mounts)
	return nil
}

// readFile reads path into the reused buffer, which the result aliases
// until the next read.
func (c *Collector) readFile(path string) ([]byte, error) {
	data, op, err := c.read(path)
	if err != nil {
		return nil, &os.PathError{Op: op, Path: path, Err: err}
	}
	return data, nil
}

// read is readFile with a bare errno, so that an expected miss (a sysfs
// attribute a driver does not have) costs no allocation. It uses the
// syscalls directly: os.File's allocation, finalizer and poller
// registration were most of the cost of reading ~50 tiny files a pass.
// procfs files report a size of 0, so it reads until EOF rather than
// trusting fstat.
func (c *Collector) read(path string) (data []byte, op string, err error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, "open", err
	}
	defer syscall.Close(fd)
	buf := c.buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			c.buf = buf
			return nil, "read", err
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	c.buf = buf
	return buf, "", nil
}

// Collect makes one pass of every enabled collector, all samples stamped
// now. It returns the series of the collectors that succeeded, and the
// errors of those that failed, joined; node_scrape_collector_success and
// node_scrape_collector_duration_seconds say which did, per collector.
// The series and their slices are reused by the next call: Collect is
// not safe for concurrent use.
func (c *Collector) Collect(now time.Time) ([]prompb.TimeSeries, error) {
	b := c.b
	b.reset(now.UnixMilli())
	var errs []error
	for _, s := range c.steps {
		start := time.Now()
		m := b.mark()
		err := s.run(c, now)
		success := 1.0
		if err != nil {
			b.rollback(m)
			success = 0
			errs = append(errs, &collectorError{s.name, err})
		}
		b.add("node_scrape_collector_duration_seconds", time.Since(start).Seconds(), "collector", s.name)
		b.add("node_scrape_collector_success", success, "collector", s.name)
	}
	return b.series, errors.Join(errs...)
}

// Run collects every Interval, starting at once, and emits each pass
// until ctx ends; it starts no goroutine. A collector that fails is
// logged when it starts failing and when it recovers, not on every
// pass. Like Collect, it must not run concurrently with another Run or
// Collect of the same Collector.
func (c *Collector) Run(ctx context.Context, e source.Emitter) error {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		if err := c.pass(ctx, e); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pass collects once and emits the records.
func (c *Collector) pass(ctx context.Context, e source.Emitter) error {
	now := time.Now()
	series, err := c.Collect(now)
	c.noteFailures(err)
	recs, err := c.records(series, now)
	if err != nil {
		return err
	}
	c.m.passes.Inc()
	c.m.series.Add(len(series))
	c.m.duration.UpdateDuration(now)
	if err := e.Emit(ctx, recs, nil); err != nil {
		return fmt.Errorf("host_metrics %s: emit: %w", c.cfg.Name, err)
	}
	c.m.records.Add(len(recs))
	return nil
}

// records encodes series as WriteRequests of at most maxSeriesPerRecord
// series each, in order, all with the source's key.
func (c *Collector) records(series []prompb.TimeSeries, now time.Time) ([]source.Record, error) {
	recs := make([]source.Record, 0, (len(series)+maxSeriesPerRecord-1)/maxSeriesPerRecord)
	for i := 0; i < len(series); i += maxSeriesPerRecord {
		wr := prompb.WriteRequest{Timeseries: series[i:min(i+maxSeriesPerRecord, len(series))]}
		body := make([]byte, wr.Size())
		if _, err := wr.MarshalToSizedBuffer(body); err != nil {
			return nil, fmt.Errorf("host_metrics %s: encode write request: %w", c.cfg.Name, err)
		}
		recs = append(recs, source.Record{
			Topic:      c.cfg.Topic,
			Key:        c.key,
			Body:       body,
			Properties: map[string]string{source.PropContentType: source.ContentTypeWriteRequest},
			Time:       now,
		})
	}
	return recs, nil
}

// noteFailures counts each collector's failure and logs the changes of
// state.
func (c *Collector) noteFailures(err error) {
	var failed map[string]error
	if err != nil {
		failed = make(map[string]error)
		for _, e := range unjoin(err) {
			var ce *collectorError
			if errors.As(e, &ce) {
				failed[ce.name] = ce.err
			}
		}
	}
	for _, s := range c.steps {
		ferr, bad := failed[s.name]
		switch {
		case bad:
			c.m.errors[s.name].Inc()
			if !c.failing[s.name] {
				c.lg.Warn("host metrics collector failing; its series are left out until it recovers",
					"collector", s.name, "err", ferr)
			}
		case c.failing[s.name]:
			c.lg.Info("host metrics collector recovered", "collector", s.name)
		}
		c.failing[s.name] = bad
	}
}

// collectorError is the failure of one collector in a pass.
type collectorError struct {
	name string
	err  error
}

func (e *collectorError) Error() string { return "collector " + e.name + ": " + e.err.Error() }
func (e *collectorError) Unwrap() error { return e.err }

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
