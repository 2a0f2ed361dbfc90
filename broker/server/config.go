package server

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/groups"
	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

// Config configures a Server. Only DataDir is required; every other zero
// value takes the default documented on the field.
type Config struct {
	// Listen is the protocol address. Default "127.0.0.1:7600"; tests use
	// "127.0.0.1:0".
	Listen string
	// HTTPListen is the address of /metrics, /healthz, /readyz and
	// /api/v1. Default "127.0.0.1:7601"; "off" disables HTTP.
	HTTPListen string
	// DataDir holds everything the broker keeps: the store in
	// DataDir/store, group offsets in DataDir/groups and the topic list in
	// DataDir/topics.json. Required.
	DataDir string
	// Flush is the store's flush mode. Default store.FlushSync.
	Flush store.FlushMode
	// FlushInterval is how often async mode fsyncs. Default: the store's
	// (200ms).
	FlushInterval time.Duration
	// MaxAge is the retention by age. Default 72h; negative keeps data
	// forever.
	MaxAge time.Duration
	// MaxSize is the retention by size of the commit log. Default 0: none.
	MaxSize int64
	// DiskFullRatio is the share of the disk in use above which produces
	// fail with CodeDiskFull. Default 0.9; 1 disables the guard.
	DiskFullRatio float64
	// AutoCreateTopics creates an unknown topic, with DefaultQueues queues,
	// on its first produce. Default false here; the YAML layer defaults it
	// to true.
	AutoCreateTopics bool
	// DefaultQueues is the queue count of auto-created topics and of
	// CreateTopic without a count. Default 8, at most MaxQueues.
	DefaultQueues int
	// MaxFrame bounds a frame in either direction. Default
	// protocol.DefaultMaxFrame.
	MaxFrame int
	// MaxInflightBytes bounds the request bytes read from sockets and not
	// yet handled, over all connections. When reached, connections stop
	// reading until handlers finish: a slow disk slows producers down
	// instead of growing memory. Default 256 MiB.
	MaxInflightBytes int64
	// SessionTimeout is the consumer-group session timeout for members
	// that do not ask for one. Default: the groups package's (10s).
	SessionTimeout time.Duration
	// ShutdownTimeout bounds Shutdown when its context has no deadline.
	// Default 10s.
	ShutdownTimeout time.Duration
	// BrokerID names this broker in Hello responses. Default: the host
	// name.
	BrokerID string
	// Logger receives connection, recovery and shutdown reports. Default
	// slog.Default().
	Logger *slog.Logger
	// Metrics receives the server's own metrics; the store and the group
	// coordinator have their own sets, and /metrics serves all three.
	// Default: a new set.
	Metrics *metrics.Set

	// fs is the store's file system; tests inject faults through it.
	fs vfs.FS
	// segmentSize is the store's segment size; tests make it small so that
	// retention has whole segments to delete.
	segmentSize int64
	// produceHook, when set, runs in each produce handler before the
	// append; tests use it to hold a produce in flight.
	produceHook func()
	// forceCloseHook, when set, runs once shutdown has closed the
	// connections still busy at its deadline (tests).
	forceCloseHook func()
}

// Defaults and limits.
const (
	DefaultListen           = "127.0.0.1:7600"
	DefaultHTTPListen       = "127.0.0.1:7601"
	DefaultQueues           = 8
	MaxQueues               = 1024
	DefaultMaxInflightBytes = 256 << 20
	DefaultShutdownTimeout  = 10 * time.Second
	// minMaxFrame keeps room for a useful batch in a frame.
	minMaxFrame = 64 << 10
)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("server: data dir is required"))
	}
	switch c.Flush {
	case "", store.FlushSync, store.FlushAsync:
	default:
		errs = append(errs, fmt.Errorf("server: flush is %q, want sync or async", c.Flush))
	}
	if c.DefaultQueues < 0 || c.DefaultQueues > MaxQueues {
		errs = append(errs, fmt.Errorf("server: default queues %d is not between 1 and %d", c.DefaultQueues, MaxQueues))
	}
	if c.MaxFrame != 0 && (c.MaxFrame < minMaxFrame || c.MaxFrame > protocol.DefaultMaxFrame) {
		errs = append(errs, fmt.Errorf("server: max frame %d is not between %d and %d", c.MaxFrame, minMaxFrame, protocol.DefaultMaxFrame))
	}
	if c.MaxInflightBytes < 0 {
		errs = append(errs, fmt.Errorf("server: max in-flight bytes %d is negative", c.MaxInflightBytes))
	}
	if c.MaxSize < 0 {
		errs = append(errs, fmt.Errorf("server: retention max size %d is negative", c.MaxSize))
	}
	if c.DiskFullRatio < 0 || c.DiskFullRatio > 1 {
		errs = append(errs, fmt.Errorf("server: disk full ratio %v is not between 0 and 1", c.DiskFullRatio))
	}
	if c.SessionTimeout != 0 && (c.SessionTimeout < groups.MinSessionTimeout || c.SessionTimeout > groups.MaxSessionTimeout) {
		errs = append(errs, fmt.Errorf("server: session timeout %v is not between %v and %v",
			c.SessionTimeout, groups.MinSessionTimeout, groups.MaxSessionTimeout))
	}
	if c.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("server: flush interval %v is negative", c.FlushInterval))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("server: shutdown timeout %v is negative", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// withDefaults returns a copy with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.HTTPListen == "" {
		c.HTTPListen = DefaultHTTPListen
	}
	if c.Flush == "" {
		c.Flush = store.FlushSync
	}
	if c.DefaultQueues == 0 {
		c.DefaultQueues = DefaultQueues
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = protocol.DefaultMaxFrame
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = DefaultMaxInflightBytes
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.BrokerID == "" {
		c.BrokerID, _ = os.Hostname()
		if c.BrokerID == "" {
			c.BrokerID = "sluice"
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	if c.fs == nil {
		c.fs = vfs.Default
	}
	return c
}
