package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// Defaults and limits.
const (
	DefaultMaxSize            = 1 << 30
	DefaultSegmentSize        = 64 << 20
	DefaultCheckpointInterval = time.Second
	// MaxRecordSize bounds one record's payload; a larger length read
	// from disk is damage, never an allocation.
	MaxRecordSize = 64 << 20

	WhenFullBlock      = "block"
	WhenFullDropOldest = "drop_oldest"
)

// Config configures a Spool. The zero value of every field but Dir works.
type Config struct {
	// Dir holds the spool's files. Required.
	Dir string
	// MaxSize bounds the bytes of the segment files. Default 1 GiB.
	MaxSize int64
	// WhenFull is "block" (default: Append waits until acknowledgements
	// free room) or "drop_oldest" (the oldest unacknowledged records are
	// dropped, counted and logged).
	WhenFull string
	// SegmentSize is the size at which a new segment file starts; a
	// record larger than it is refused. Default 64 MiB, or MaxSize/8 if
	// that is smaller. At most MaxSize/2, so that dropping or deleting a
	// segment always makes room.
	SegmentSize int64
	// CheckpointInterval is how often acknowledgements are persisted.
	// Default 1s; it bounds what is read again after a crash.
	CheckpointInterval time.Duration
	// FS is the file system; nil means the operating system's.
	FS vfs.FS
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the spool's metrics; nil means a private set.
	Metrics *metrics.Set
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.SegmentSize == 0 {
		c.SegmentSize = min(DefaultSegmentSize, c.MaxSize/8)
	}
	if c.WhenFull == "" {
		c.WhenFull = WhenFullBlock
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	return c
}

// Validate reports every field that cannot work, with defaults applied.
func (c *Config) Validate() error {
	d := c.withDefaults()
	var errs []error
	if d.Dir == "" {
		errs = append(errs, errors.New("spool: dir is required"))
	}
	if d.MaxSize < 0 || d.SegmentSize < 0 || d.CheckpointInterval < 0 {
		errs = append(errs, fmt.Errorf("spool: max_size %d, segment size %d and checkpoint interval %s must not be negative",
			d.MaxSize, d.SegmentSize, d.CheckpointInterval))
	} else if d.SegmentSize <= headerSize {
		errs = append(errs, fmt.Errorf("spool: segment size %d (max_size %d) holds no record", d.SegmentSize, d.MaxSize))
	} else if d.SegmentSize > d.MaxSize/2 {
		errs = append(errs, fmt.Errorf("spool: segment size %d must be at most half of max_size %d", d.SegmentSize, d.MaxSize))
	}
	if d.WhenFull != WhenFullBlock && d.WhenFull != WhenFullDropOldest {
		errs = append(errs, fmt.Errorf("spool: when_full %q is not block or drop_oldest", d.WhenFull))
	}
	return errors.Join(errs...)
}

// maxPayload is the largest payload Append takes.
func (c Config) maxPayload() int64 {
	return min(MaxRecordSize, c.SegmentSize-headerSize)
}
