package httpclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/klauspost/compress/gzip"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

// DefaultBatchBytes bounds a request body when batch_bytes is not set.
const DefaultBatchBytes = 1 << 20

// Batching is the keys of a sink that encodes events into bodies of a
// bounded size and sends them one after the other (http, loki). A sink
// inlines it in its Config after its own keys, so the keys, their
// defaults and their errors stay the same from one sink to the next.
type Batching struct {
	// Compression of bodies: none (default) or gzip (with
	// Content-Encoding: gzip).
	Compression string `yaml:"compression"`
	// BatchBytes bounds one body before compression; a Write with more is
	// sent in several requests. An event larger than that on its own is
	// sent alone. Default 1MiB.
	BatchBytes config.Size `yaml:"batch_bytes"`
	// Retry is how a failed request is retried before Write gives up.
	Retry config.Retry `yaml:"retry"`
	// HTTPClient: headers, basic_auth, bearer_token(_file), tls, timeout.
	config.HTTPClient `yaml:",inline"`
}

// Validate checks b's keys, in the order a sink reports them after its
// own: compression, batch_bytes, retry, then the client's.
func (b *Batching) Validate() error {
	var errs []error
	switch b.Compression {
	case "", "none", "gzip":
	default:
		errs = append(errs, component.Errorf("compression", "%q is not none or gzip", b.Compression))
	}
	if b.BatchBytes < 0 {
		errs = append(errs, component.Errorf("batch_bytes", "must not be negative"))
	}
	errs = append(errs, validateRetry(b.Retry)...)
	errs = append(errs, Validate(&b.HTTPClient))
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

// ParseURL parses a sink's url key: an http or https URL with a host.
// required is the message when raw is empty, which says what the sink
// wants there ("is required: ...").
func ParseURL(raw, required string) (*url.URL, error) {
	if raw == "" {
		return nil, component.Errorf("url", "%s", required)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, component.Errorf("url", "%q is not an http or https URL", raw)
	}
	return u, nil
}

// BatchSender sends the bodies of a sink configured by Batching:
// compressed if so configured, then retried by a Sender. Post is not
// called concurrently (a sink's Write is not), so the compression buffer
// is reused from one body to the next.
type BatchSender struct {
	send       *Sender
	client     *Client
	batchBytes int
	gzip       bool

	zbody bytes.Buffer
	zw    *gzip.Writer
}

// NewBatchSender returns the sender of a sink of kind ("http", "loki")
// configured by b: method requests to rawURL with header, to which it
// adds Content-Encoding when bodies are compressed; verb names a request
// in logs and errors (see NewSender). It reads the client's credential
// and TLS files now.
func NewBatchSender(b Batching, kind, method, verb, rawURL string, header http.Header, set component.Settings) (*BatchSender, error) {
	client, err := New(b.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("%s sink %s: %w", kind, set.Name, err)
	}
	gz := b.Compression == "gzip"
	if gz {
		header.Set("Content-Encoding", "gzip")
	}
	batch := int(b.BatchBytes)
	if batch <= 0 {
		batch = DefaultBatchBytes
	}
	return &BatchSender{
		send:       NewSender(client, method, verb, rawURL, header, b.Retry, set),
		client:     client,
		batchBytes: batch,
		gzip:       gz,
	}, nil
}

// BatchBytes is the bound on a body before compression: batch_bytes or
// its default.
func (s *BatchSender) BatchBytes() int { return s.batchBytes }

// Post sends body, which carries events events, compressed if so
// configured; it returns what Sender.Post does.
func (s *BatchSender) Post(ctx context.Context, body []byte, events int) error {
	if s.gzip {
		s.zbody.Reset()
		if s.zw == nil {
			s.zw = gzip.NewWriter(&s.zbody)
		} else {
			s.zw.Reset(&s.zbody)
		}
		// Writes to a bytes.Buffer do not fail.
		_, _ = s.zw.Write(body)
		_ = s.zw.Close()
		body = s.zbody.Bytes()
	}
	return s.send.Post(ctx, body, events)
}

// CloseIdle closes idle connections (at the sink's Close).
func (s *BatchSender) CloseIdle() { s.client.CloseIdle() }
