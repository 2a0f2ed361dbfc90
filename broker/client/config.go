package client

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/protocol"
)

// Defaults of Config. The zero Config works: every zero field takes its
// default.
const (
	DefaultAddr           = "127.0.0.1:7600"
	DefaultClientName     = "sluice-go"
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultMinBackoff     = 50 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
)

// Config configures a Client.
type Config struct {
	// Addr is the broker's protocol address. Default "127.0.0.1:7600".
	Addr string
	// ClientName is sent in Hello, for the broker's logs. Default "sluice-go".
	ClientName string
	// ClientID identifies this process to the broker (logs, group members).
	// Default "HOSTNAME-PID".
	ClientID string
	// DialTimeout bounds connecting and the Hello exchange. Default 5s.
	DialTimeout time.Duration
	// RequestTimeout bounds one request from send to response; a long-poll
	// fetch gets its wait on top. Default 30s.
	RequestTimeout time.Duration
	// MaxFrame is the largest frame the client reads or writes. Default
	// protocol.DefaultMaxFrame (65 MiB); the broker's smaller limit, if it
	// announces one in Hello, wins for writes.
	MaxFrame int
	// MinBackoff and MaxBackoff bound the exponential back-off (with
	// jitter) between reconnects and retries. Defaults 50ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// Credentials are sent in Hello, for brokers that authenticate.
	Credentials map[string]string
	// Logger receives reconnects and retries. Default: slog.Default().
	Logger *slog.Logger
	// Metrics is where the client registers its metrics. Default: a new
	// set, reachable through Client.Metrics.
	Metrics *metrics.Set
}

// Validate reports a field that cannot work. Zero fields are valid: they
// take their defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("dial timeout %v is negative", c.DialTimeout))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("request timeout %v is negative", c.RequestTimeout))
	}
	if c.MaxFrame < 0 || (c.MaxFrame > 0 && c.MaxFrame < 1<<16) {
		errs = append(errs, fmt.Errorf("max frame %d: want 0 (default) or at least 64 KiB", c.MaxFrame))
	}
	if c.MinBackoff < 0 || c.MaxBackoff < 0 {
		errs = append(errs, fmt.Errorf("back-off bounds %v, %v: negative", c.MinBackoff, c.MaxBackoff))
	}
	if c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff {
		errs = append(errs, fmt.Errorf("min back-off %v exceeds max back-off %v", c.MinBackoff, c.MaxBackoff))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.ClientName == "" {
		c.ClientName = DefaultClientName
	}
	if c.ClientID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "unknown"
		}
		c.ClientID = host + "-" + strconv.Itoa(os.Getpid())
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = protocol.DefaultMaxFrame
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	return c
}
