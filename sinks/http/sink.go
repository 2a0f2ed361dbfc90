package http

import (
	"context"
	nethttp "net/http"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// Sink sends events as JSON bodies. Write is not called concurrently, so
// the buffers below are reused from one Write to the next.
type Sink struct {
	send       *httpclient.BatchSender
	array      bool
	batchBytes int

	line []byte // the event being encoded
	body []byte
}

// New returns an http sink; cfg must have passed Validate.
func New(cfg Config, set component.Settings) (*Sink, error) {
	method := cfg.Method
	if method == "" {
		method = nethttp.MethodPost
	}
	array := cfg.Encoding == "json_array"
	header := nethttp.Header{"Content-Type": {"application/x-ndjson"}}
	if array {
		header.Set("Content-Type", "application/json")
	}
	send, err := httpclient.NewBatchSender(cfg.Batching, "http", method, method, cfg.URL, header, set)
	if err != nil {
		return nil, err
	}
	return &Sink{send: send, array: array, batchBytes: send.BatchBytes()}, nil
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
			if err := s.send.Post(ctx, s.close(body), n); err != nil {
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
	return s.send.Post(ctx, s.close(body), n)
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

// Close releases the sink's idle connections. Write keeps nothing
// pending between calls, so there is nothing to flush.
func (s *Sink) Close(context.Context) error {
	s.send.CloseIdle()
	return nil
}
