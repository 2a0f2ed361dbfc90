package store

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// FlushMode says when an append is acknowledged.
type FlushMode string

const (
	// FlushSync acknowledges an append once its bytes are fsynced.
	FlushSync FlushMode = "sync"
	// FlushAsync acknowledges an append once it is written to the OS and
	// fsyncs every FlushInterval.
	FlushAsync FlushMode = "async"
)

// Config configures a Store. Only Dir is required; every other zero value
// takes the default documented on the field.
type Config struct {
	// Dir holds the store's files. Required.
	Dir string
	// FS is the file system; nil means the operating system's.
	FS vfs.FS
	// SegmentSize is the size of a commit-log segment. Default 1 GiB.
	SegmentSize int64
	// Flush is "sync" (default) or "async"; see the package documentation
	// for what each can lose.
	Flush FlushMode
	// FlushInterval is how often async mode fsyncs. Default 200ms.
	FlushInterval time.Duration
	// CheckpointInterval is how often consume queues and the key index are
	// made durable and the recovery checkpoint advanced; it bounds the log
	// tail that recovery must re-scan. Default 10s.
	CheckpointInterval time.Duration
	// MaxAge deletes segments whose newest record is older. Default 72h;
	// negative keeps segments forever.
	MaxAge time.Duration
	// MaxSize deletes the oldest segments while the log is larger.
	// Default 0: no size limit.
	MaxSize int64
	// DiskFullRatio is the share of the disk in use above which appends
	// fail with ErrDiskFull while reads go on. Default 0.9; 1 disables.
	DiskFullRatio float64
	// MaintenanceInterval is how often the disk guard and retention run.
	// Default 1s.
	MaintenanceInterval time.Duration
	// CQEntriesPerFile is the size of a consume-queue file in entries.
	// Default 65,536.
	CQEntriesPerFile int64
	// Metrics receives the store's metrics; nil makes a new set, available
	// from Store.Metrics.
	Metrics *metrics.Set
	// Logger receives recovery and corruption reports; nil uses slog.Default.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

const (
	defaultFlushInterval       = 200 * time.Millisecond
	defaultCheckpointInterval  = 10 * time.Second
	defaultMaxAge              = 72 * time.Hour
	defaultDiskFullRatio       = 0.9
	defaultMaintenanceInterval = time.Second
)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("store: dir is required"))
	}
	switch c.Flush {
	case "", FlushSync, FlushAsync:
	default:
		errs = append(errs, fmt.Errorf("store: flush is %q, want sync or async", c.Flush))
	}
	if c.SegmentSize < 0 {
		errs = append(errs, fmt.Errorf("store: segment size %d is negative", c.SegmentSize))
	}
	if c.SegmentSize > 0 && c.SegmentSize < 4096 {
		errs = append(errs, fmt.Errorf("store: segment size %d is below 4096 bytes", c.SegmentSize))
	}
	if c.MaxSize < 0 {
		errs = append(errs, fmt.Errorf("store: max size %d is negative", c.MaxSize))
	}
	if c.DiskFullRatio < 0 || c.DiskFullRatio > 1 {
		errs = append(errs, fmt.Errorf("store: disk full ratio %v is not between 0 and 1", c.DiskFullRatio))
	}
	for name, d := range map[string]time.Duration{"flush interval": c.FlushInterval,
		"checkpoint interval": c.CheckpointInterval, "maintenance interval": c.MaintenanceInterval} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("store: %s %v is negative", name, d))
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns a copy with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.Flush == "" {
		c.Flush = FlushSync
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = defaultFlushInterval
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = defaultCheckpointInterval
	}
	if c.MaxAge == 0 {
		c.MaxAge = defaultMaxAge
	}
	if c.DiskFullRatio == 0 {
		c.DiskFullRatio = defaultDiskFullRatio
	}
	if c.MaintenanceInterval == 0 {
		c.MaintenanceInterval = defaultMaintenanceInterval
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
