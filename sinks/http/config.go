package http

import (
	"errors"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// DefaultBatchBytes bounds a request body when batch_bytes is not set.
const DefaultBatchBytes = httpclient.DefaultBatchBytes

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
	// Batching: compression, batch_bytes, retry, and the HTTP client's
	// headers, basic_auth, bearer_token(_file), tls, timeout.
	httpclient.Batching `yaml:",inline"`
}

// Validate checks c.
func (c *Config) Validate() error {
	var errs []error
	if _, err := httpclient.ParseURL(c.URL, "is required: the http or https URL events are sent to"); err != nil {
		errs = append(errs, err)
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
	errs = append(errs, c.Batching.Validate())
	return errors.Join(errs...)
}
