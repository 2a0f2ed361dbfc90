package syslog

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/receive"
)

// Defaults of Config.
const (
	DefaultName            = "syslog"
	DefaultListen          = "127.0.0.1:5514"
	DefaultProtocol        = "udp"
	DefaultMaxMessageBytes = 64 << 10
	DefaultMaxBatch        = 256
	DefaultFlushInterval   = 100 * time.Millisecond
)

// Config configures a syslog receiver. The zero value with a Topic
// works.
type Config struct {
	// Name of the source, in its records' source property and metrics.
	// Default "syslog".
	Name string
	// Listen is the address to serve on. Default 127.0.0.1:5514.
	Listen string
	// Protocol is "udp" (one message per datagram) or "tcp" (octet
	// counting or newline framing, detected per connection). Default
	// "udp".
	Protocol string
	// Topic the records go to. Required.
	Topic string
	// Fields are added to every record's properties.
	Fields map[string]string
	// MaxMessageBytes bounds one message; larger ones are dropped and
	// counted. Default 64 KiB (RFC 5425 receivers must take 2 KiB and
	// should take 8 KiB; journald forwards up to 64 KiB).
	MaxMessageBytes int
	// MaxBatch bounds the records of one Emit. Default 256.
	MaxBatch int
	// FlushInterval bounds how long a UDP message waits for more to
	// batch with. Default 100ms. TCP batches what has already arrived
	// and never waits.
	FlushInterval time.Duration
	// MaxConns bounds concurrent TCP connections. Default 256.
	MaxConns int
	// Location is the time zone of RFC 3164 timestamps, which carry
	// none. Default time.Local.
	Location *time.Location
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the source's own metrics. Default a new set.
	Metrics *metrics.Set
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	if err := receive.CheckCommon("syslog", c.Topic, &c.Name, &c.Listen, DefaultName, DefaultListen); err != nil {
		return err
	}
	if c.Protocol == "" {
		c.Protocol = DefaultProtocol
	}
	if c.Protocol != "udp" && c.Protocol != "tcp" {
		return fmt.Errorf("syslog: protocol %q: want udp or tcp", c.Protocol)
	}
	if c.MaxMessageBytes < 0 || c.MaxBatch < 0 || c.FlushInterval < 0 || c.MaxConns < 0 {
		return errors.New("syslog: limits must not be negative")
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxConns == 0 {
		c.MaxConns = receive.DefaultMaxConns
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	return nil
}
