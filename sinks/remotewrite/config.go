package remotewrite

import (
	"errors"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// The protocols the sink speaks.
const (
	// ProtocolV1 is Remote-Write 1.0: prometheus.WriteRequest.
	ProtocolV1 = "v1"
	// ProtocolV2 is Remote-Write 2.0: io.prometheus.write.v2.Request.
	ProtocolV2 = "v2"
)

// Defaults of the Config fields left at zero.
const (
	DefaultShards               = 4
	DefaultMaxSamplesPerRequest = 2000
	// maxShards bounds the goroutines one Write starts.
	maxShards = 1024
)

// Config is the prometheus_remote_write sink's configuration. The zero
// value of every field but URL means its documented default.
type Config struct {
	// URL is the receiver's endpoint, e.g.
	// http://127.0.0.1:8428/api/v1/write (VictoriaMetrics) or
	// http://127.0.0.1:9090/api/v1/write (Prometheus). Required.
	URL string `yaml:"url"`
	// Protocol is v1 (default: Remote-Write 1.0, what every receiver
	// takes) or v2 (Remote-Write 2.0: a symbols table, metadata on every
	// series).
	Protocol string `yaml:"protocol"`
	// Shards is how many senders send in parallel; a series always goes
	// to the shard hash(labels) % Shards so that one sender sends all its
	// samples, in timestamp order. Default 4.
	Shards int `yaml:"shards"`
	// MaxSamplesPerRequest bounds the samples (float and histogram) of
	// one request. Default 2000.
	MaxSamplesPerRequest int `yaml:"max_samples_per_request"`
	// Retry is the back-off for 5xx, 429 and network errors.
	Retry config.Retry `yaml:"retry"`
	// HTTPClient is headers, basic_auth, bearer_token(_file), tls and
	// timeout (default 30s per request).
	config.HTTPClient `yaml:",inline"`
}

// Validate reports every key that is wrong.
func (c *Config) Validate() error {
	var errs []error
	if _, err := httpclient.ParseURL(c.URL, "is required: the receiver's endpoint, e.g. http://127.0.0.1:8428/api/v1/write"); err != nil {
		errs = append(errs, err)
	}
	switch c.Protocol {
	case "", ProtocolV1, ProtocolV2:
	default:
		errs = append(errs, component.Errorf("protocol", "%q is not a remote write protocol: want v1 or v2", c.Protocol))
	}
	if c.Shards < 0 || c.Shards > maxShards {
		errs = append(errs, component.Errorf("shards", "%d is out of range: want 1 to %d (0 for the default, %d)", c.Shards, maxShards, DefaultShards))
	}
	if c.MaxSamplesPerRequest < 0 {
		errs = append(errs, component.Errorf("max_samples_per_request", "%d is negative: want a positive number (0 for the default, %d)", c.MaxSamplesPerRequest, DefaultMaxSamplesPerRequest))
	}
	errs = append(errs, validateRetry(c.Retry))
	if err := httpclient.Validate(&c.HTTPClient); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validateRetry(r config.Retry) error {
	var errs []error
	for _, d := range []struct {
		key string
		v   config.Duration
	}{{"retry.initial_backoff", r.InitialBackoff}, {"retry.max_backoff", r.MaxBackoff}, {"retry.max_elapsed", r.MaxElapsed}} {
		if d.v < 0 {
			errs = append(errs, component.Errorf(d.key, "%s is negative: want a positive duration (0 for the default)", d.v.D()))
		}
	}
	if r.InitialBackoff > 0 && r.MaxBackoff > 0 && r.InitialBackoff > r.MaxBackoff {
		errs = append(errs, component.Errorf("retry.initial_backoff", "%s is more than retry.max_backoff (%s)", r.InitialBackoff.D(), r.MaxBackoff.D()))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field at its default.
func (c Config) withDefaults() Config {
	if c.Protocol == "" {
		c.Protocol = ProtocolV1
	}
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.MaxSamplesPerRequest == 0 {
		c.MaxSamplesPerRequest = DefaultMaxSamplesPerRequest
	}
	c.Retry = c.Retry.WithDefaults()
	return c
}
