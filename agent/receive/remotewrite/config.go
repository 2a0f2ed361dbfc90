package remotewrite

import (
	"errors"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/receive"
)

// Defaults of Config.
const (
	DefaultName            = "prometheus_remote_write"
	DefaultListen          = "127.0.0.1:9201"
	DefaultMaxBodyBytes    = 32 << 20
	DefaultMaxDecodedBytes = 32 << 20
	DefaultAckTimeout      = 30 * time.Second
)

// Config configures a remote write receiver. The zero value with a Topic
// works.
type Config struct {
	// Name of the source, in its records' source property and metrics.
	// Default "prometheus_remote_write".
	Name string
	// Listen is the TCP address to serve on. Default 127.0.0.1:9201.
	Listen string
	// Topic the records go to. Required.
	Topic string
	// Fields are added to every record's properties.
	Fields map[string]string
	// MaxBodyBytes bounds the compressed body. Default 32 MiB.
	MaxBodyBytes int64
	// MaxDecodedBytes bounds the snappy-decoded body, checked against
	// the length the block announces before decoding. Default 32 MiB.
	MaxDecodedBytes int
	// AckTimeout bounds how long a request waits for its batch to be
	// accepted and acknowledged before answering 503. Default 30s,
	// Prometheus' default remote_timeout; keep it at or below the
	// sender's remote_timeout so the sender sees our answer.
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
	if err := receive.CheckCommon("remotewrite", c.Topic, &c.Name, &c.Listen, DefaultName, DefaultListen); err != nil {
		return err
	}
	if c.MaxBodyBytes < 0 || c.MaxDecodedBytes < 0 || c.AckTimeout < 0 || c.MaxConns < 0 {
		return errors.New("remotewrite: limits must not be negative")
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxDecodedBytes == 0 {
		c.MaxDecodedBytes = DefaultMaxDecodedBytes
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
