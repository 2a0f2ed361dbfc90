package hostmetrics

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Defaults of Config.
const (
	DefaultInterval = 15 * time.Second
	DefaultJob      = "node"
	DefaultName     = "host_metrics"
)

// Collector names, for Config.Collectors; each is named after the
// node_exporter collector that exposes the same series.
const (
	CollectorCPU        = "cpu"        // node_cpu_seconds_total, node_cpu_guest_seconds_total
	CollectorStat       = "stat"       // boot time, context switches, forks, interrupts, procs
	CollectorMeminfo    = "meminfo"    // node_memory_*
	CollectorLoadavg    = "loadavg"    // node_load1, node_load5, node_load15
	CollectorDiskstats  = "diskstats"  // node_disk_*
	CollectorFilesystem = "filesystem" // node_filesystem_*
	CollectorNetdev     = "netdev"     // node_network_{receive,transmit}_*
	CollectorNetclass   = "netclass"   // node_network_{up,info,mtu_bytes,speed_bytes,...} from sysfs
	CollectorUname      = "uname"      // node_uname_info
	CollectorTime       = "time"       // node_time_seconds
)

// AllCollectors lists every collector, in the order a pass runs them.
var AllCollectors = []string{
	CollectorCPU, CollectorStat, CollectorMeminfo, CollectorLoadavg, CollectorDiskstats,
	CollectorFilesystem, CollectorNetdev, CollectorNetclass, CollectorUname, CollectorTime,
}

// Config configures a host metrics source. The zero value with a Topic
// works: every other field has a documented default.
type Config struct {
	// Name of the source, in logs and in the agent's own metrics.
	// Default "host_metrics".
	Name string
	// Topic the records go to. Required.
	Topic string
	// Interval between passes. Default 15s.
	Interval time.Duration
	// Job is the job label of every series. Default "node", as a
	// Prometheus job scraping node_exporter is usually named.
	Job string
	// Instance is the instance label of every series. Default the
	// hostname.
	Instance string
	// ProcPath is where procfs is mounted. Default "/proc"; in a
	// container, the host's /proc mounted elsewhere.
	ProcPath string
	// SysPath is where sysfs is mounted, read by the netclass
	// collector. Default "/sys".
	SysPath string
	// RootfsPath is prepended to mount points for statfs, for an agent
	// in a container with the host's / mounted there. Default "/".
	RootfsPath string
	// Collectors to run, from AllCollectors. Default all of them.
	Collectors []string
	// FSExcludeTypes are filesystem types the filesystem collector
	// skips. Nil means DefaultFSExcludeTypes; an empty, non-nil slice
	// skips none.
	FSExcludeTypes []string
	// FSExcludeMountPoints are mount points skipped with everything
	// below them (an entry ending in "/" skips only what is below).
	// Nil means DefaultFSExcludeMountPoints.
	FSExcludeMountPoints []string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the source's own metrics. Default a new set.
	Metrics *metrics.Set
}

// Validate reports every field that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Topic == "" {
		errs = append(errs, errors.New("host_metrics: topic is required"))
	}
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("host_metrics: interval %v is negative", c.Interval))
	} else if c.Interval > 0 && c.Interval < time.Second {
		errs = append(errs, fmt.Errorf("host_metrics: interval %v is below 1s", c.Interval))
	}
	for _, name := range c.Collectors {
		if !slices.Contains(AllCollectors, name) {
			errs = append(errs, fmt.Errorf("host_metrics: unknown collector %q (known: %v)", name, AllCollectors))
		}
	}
	for _, p := range c.FSExcludeMountPoints {
		if p == "" || p[0] != '/' {
			errs = append(errs, fmt.Errorf("host_metrics: excluded mount point %q is not an absolute path", p))
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every unset field at its default.
func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Job == "" {
		c.Job = DefaultJob
	}
	if c.Instance == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("host_metrics: instance defaults to the hostname: %w", err)
		}
		c.Instance = h
	}
	if c.ProcPath == "" {
		c.ProcPath = "/proc"
	}
	if c.SysPath == "" {
		c.SysPath = "/sys"
	}
	if c.RootfsPath == "" {
		c.RootfsPath = "/"
	}
	if c.Collectors == nil {
		c.Collectors = AllCollectors
	}
	if c.FSExcludeTypes == nil {
		c.FSExcludeTypes = DefaultFSExcludeTypes
	}
	if c.FSExcludeMountPoints == nil {
		c.FSExcludeMountPoints = DefaultFSExcludeMountPoints
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	return c, nil
}
