package http

import (
	"bytes"
	"context"
	"fmt"
	nethttp "net/http"

	"github.com/klauspost/compress/gzip"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// Sink sends events as JSON bodies. Write is not called concurrently, so
// the buffers below are reused from one Write to the next.
type Sink struct {
	send       *httpclient.Sender
	client     *httpclient.Client
	array      bool
	gzip       bool
	batchBytes int

	line  []byte // the event being encoded
	body  []byte
	zbody bytes.Buffer
	zw    *gzip.Writer
}

// New returns an http sink; cfg must have passed Validate.
func New(cfg Config, set component.Settings) (*Sink, error) {
	client, err := httpclient.New(cfg.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("http sink %s: %w", set.Name, err)
	}
	method := cfg.Method
	if method == "" {
		method = nethttp.MethodPost
	}
	array := cfg.Encoding == "json_array"
	header := nethttp.Header{"Content-Type": {"application/x-ndjson"}}
	if array {
		header.Set("Content-Type", "application/json")
	}
	if cfg.Compression == "gzip" {
		header.Set("Content-Encoding", "gzip")
	}
	batch := int(cfg.BatchBytes)
	if batch <= 0 {
		batch = DefaultBatchBytes
	}
	return &Sink{
		send:       httpclient.NewSender(client, method, method, cfg.URL, header, cfg.Retry, set),
		client:     client,
		array:      array,
		gzip:       cfg.Compression == "gzip",
		batchBytes: batch,
	}, nil
}

// Write sends events in bodies of at most batch_bytes, in order.
func (s *Sink) Write(ctx context.Context, events []*event.Event) error {
	body, n := s.body[:0], 0
	defer func() {
		if cap(body) <= 4*s.batchBytes {
			s.body = body[:0]
		} else {
			s.body = nil // an oversized event grew it; do not hold on to that
		}
	}()
	for _, e := range events {
		s.line = event.AppendJSON(s.line[:0], e)
		if n > 0 && len(body)+s.framing()+len(s.line) > s.batchBytes {
			if err := s.post(ctx, s.close(body), n); err != nil {
				return err
			}
			body, n = body[:0], 0
		}
		switch {
		case !s.array:
		case n == 0:
			body = append(body, '[')
		default:
			body = append(body, ',')
		}
		body = append(body, s.line...)
		if !s.array {
			body = append(body, '\n')
		}
		n++
	}
	if n == 0 {
		return nil
	}
	return s.post(ctx, s.close(body), n)
}

// framing is how many bytes besides its JSON an event adds to a body,
// counting the closing bracket of an array.
func (s *Sink) framing() int {
	if s.array {
		return 2 // "[" or ",", and "]"
	}
	return 1 // "\n"
}

// close finishes a body; the caller keeps appending to body itself,
// never to what close returns.
func (s *Sink) close(body []byte) []byte {
	if s.array {
		return append(body, ']')
	}
	return body
}

// post sends one body, compressed if so configured.
func (s *Sink) post(ctx context.Context, body []byte, events int) error {
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

// Close releases the sink's idle connections. Write keeps nothing
// pending between calls, so there is nothing to flush.
func (s *Sink) Close(context.Context) error {
	s.client.CloseIdle()
	return nil
}
