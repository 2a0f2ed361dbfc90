package http

import (
	"errors"
	"net/url"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// DefaultBatchBytes bounds a request body when batch_bytes is not set.
const DefaultBatchBytes = 1 << 20

// Config is the http sink's keys.
type Config struct {
	// URL is where requests go (http or https). Required.
	URL string `yaml:"url"`
	// Method is POST (default) or PUT.
	Method string `yaml:"method"`
	// Encoding of a body: ndjson (default; one JSON event per line,
	// Content-Type application/x-ndjson) or json_array (one JSON array of
	// events, Content-Type application/json).
	Encoding string `yaml:"encoding"`
	// Compression of bodies: none (default) or gzip (with
	// Content-Encoding: gzip).
	Compression string `yaml:"compression"`
	// BatchBytes bounds one body before compression; a Write with more is
	// sent in several requests. Default 1MiB.
	BatchBytes config.Size `yaml:"batch_bytes"`
	// Retry is how a failed request is retried before Write gives up.
	Retry config.Retry `yaml:"retry"`
	// HTTPClient: headers, basic_auth, bearer_token(_file), tls, timeout.
	config.HTTPClient `yaml:",inline"`
}

// Validate checks c.
func (c *Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, component.Errorf("url", "is required: the http or https URL events are sent to"))
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, component.Errorf("url", "%q is not an http or https URL", c.URL))
	}
	switch c.Method {
	case "", "POST", "PUT":
	default:
		errs = append(errs, component.Errorf("method", "%q is not POST or PUT", c.Method))
	}
	switch c.Encoding {
	case "", "ndjson", "json_array":
	default:
		errs = append(errs, component.Errorf("encoding", "%q is not ndjson or json_array", c.Encoding))
	}
	switch c.Compression {
	case "", "none", "gzip":
	default:
		errs = append(errs, component.Errorf("compression", "%q is not none or gzip", c.Compression))
	}
	if c.BatchBytes < 0 {
		errs = append(errs, component.Errorf("batch_bytes", "must not be negative"))
	}
	errs = append(errs, validateRetry(c.Retry)...)
	errs = append(errs, httpclient.Validate(&c.HTTPClient))
	return errors.Join(errs...)
}

func validateRetry(r config.Retry) []error {
	var errs []error
	for _, d := range []struct {
		key string
		v   config.Duration
	}{{"retry.initial_backoff", r.InitialBackoff}, {"retry.max_backoff", r.MaxBackoff}, {"retry.max_elapsed", r.MaxElapsed}} {
		if d.v < 0 {
			errs = append(errs, component.Errorf(d.key, "must not be negative"))
		}
	}
	if r.InitialBackoff > 0 && r.MaxBackoff > 0 && r.InitialBackoff > r.MaxBackoff {
		errs = append(errs, component.Errorf("retry.initial_backoff", "%s is more than retry.max_backoff %s", r.InitialBackoff.D(), r.MaxBackoff.D()))
	}
	return errs
}
