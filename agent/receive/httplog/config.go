package httplog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/receive"
)

// Defaults of Config.
const (
	DefaultName         = "http"
	DefaultListen       = "127.0.0.1:8088"
	DefaultMaxBodyBytes = 10 << 20
	DefaultMaxBatch     = 1000
	DefaultAckTimeout   = 30 * time.Second
)

// Config configures an http log receiver. The zero value with a Topic
// works.
type Config struct {
	// Name of the source, in its records' source property and metrics.
	// Default "http".
	Name string
	// Listen is the TCP address to serve on. Default 127.0.0.1:8088.
	Listen string
	// Topic the records go to. Required.
	Topic string
	// Fields are added to every record's properties.
	Fields map[string]string
	// Host is the host property of every record. Default the hostname.
	Host string
	// MaxBodyBytes bounds a request body; larger ones get 413. Default
	// 10 MiB.
	MaxBodyBytes int64
	// MaxBatch bounds the records of one Emit; a larger request is
	// emitted in several batches. Default 1000.
	MaxBatch int
	// AckTimeout bounds how long a request waits for its batches to be
	// accepted and acknowledged before answering 503. Default 30s.
	AckTimeout time.Duration
	// MaxConns bounds concurrent connections. Default 256.
	MaxConns int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the source's own metrics. Default a new set.
	Metrics *metrics.Set
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	if err := receive.CheckCommon("httplog", c.Topic, &c.Name, &c.Listen, DefaultName, DefaultListen); err != nil {
		return err
	}
	if c.MaxBodyBytes < 0 || c.MaxBatch < 0 || c.AckTimeout < 0 || c.MaxConns < 0 {
		return errors.New("httplog: limits must not be negative")
	}
	if c.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("httplog: host: %w", err)
		}
		c.Host = h
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = receive.DefaultMaxConns
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	return nil
}
