package remotewrite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// The response headers of Remote-Write 2.0 saying what was written.
const (
	headerSamplesWritten    = "X-Prometheus-Remote-Write-Samples-Written"
	headerHistogramsWritten = "X-Prometheus-Remote-Write-Histograms-Written"
)

// snippetLen is how much of an error response's body is kept for the
// log and the error.
const snippetLen = 256

// response is what a request got back.
type response struct {
	status  int
	header  http.Header
	snippet string // the body's first bytes, for a non-2xx status
}

// post sends one request body holding n samples until the receiver
// accepts it (nil), refuses it for good with a 4xx (dropped, counted,
// logged; nil), or the retry budget is spent (the last error). 5xx, 429
// and network errors are retried with back-off, waiting at least what a
// Retry-After header asks for.
func (s *Sink) post(ctx context.Context, body []byte, n counts) error {
	start := time.Now()
	maxElapsed := s.cfg.Retry.MaxElapsed.D()
	for attempt := 0; ; attempt++ {
		resp, err := s.do(ctx, body)
		switch {
		case err == nil && resp.status/100 == 2:
			s.accepted(resp.header, n)
			return nil
		case err == nil && !httpclient.Retriable(resp.status):
			s.dropped[reason4xx].Add(n.total())
			s.logger.Warn("remote write: the receiver refused a request; its samples are dropped",
				"sink", s.name, "url", s.redacted, "status", resp.status, "samples", n.total(), "response", resp.snippet)
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			err = fmt.Errorf("receiver answered %d %s: %q", resp.status, http.StatusText(resp.status), resp.snippet)
		}
		wait := s.backoff.Delay(attempt)
		if resp.header != nil {
			wait = max(wait, httpclient.RetryAfter(resp.header, time.Now()))
		}
		if elapsed := time.Since(start); elapsed+wait > maxElapsed {
			return fmt.Errorf("%d samples not accepted after %d attempts in %s (retry.max_elapsed %s): %w",
				n.total(), attempt+1, elapsed.Round(time.Millisecond), maxElapsed, err)
		}
		s.retries.Inc()
		s.logger.Debug("remote write: retrying", "sink", s.name, "attempt", attempt+1, "wait", wait, "error", err)
		if !component.Sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// do sends body once.
func (s *Sink) do(ctx context.Context, body []byte) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return response{}, fmt.Errorf("make request: %w", err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", s.contentType)
	req.Header.Set("User-Agent", s.userAgent)
	req.Header.Set("X-Prometheus-Remote-Write-Version", s.version)
	t0 := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, snippetLen))
		r.snippet = string(b)
	}
	// Read what is left (within reason) so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	s.duration.UpdateDuration(t0)
	s.requests(resp.StatusCode).Inc()
	return r, nil
}

// accepted counts the samples of a 2xx response. A v2 receiver says how
// many it wrote; what it did not write is dropped and counted (the spec
// says not to retry a 2xx).
func (s *Sink) accepted(h http.Header, n counts) {
	written := n
	if s.cfg.Protocol == ProtocolV2 {
		written.floats = writtenHeader(h, headerSamplesWritten, n.floats)
		written.histograms = writtenHeader(h, headerHistogramsWritten, n.histograms)
	}
	s.sent.Add(written.total())
	if lost := n.total() - written.total(); lost > 0 {
		s.dropped[reasonNotWritten].Add(lost)
		s.logger.Warn("remote write: the receiver wrote fewer samples than sent", "sink", s.name, "url", s.redacted,
			"sent", n.total(), "written", written.total())
	}
}

// writtenHeader returns header name's count, or sent when it is absent
// or not a count up to sent (receivers of v1 do not set it).
func writtenHeader(h http.Header, name string, sent int) int {
	v, err := strconv.Atoi(h.Get(name))
	if err != nil || v < 0 || v > sent {
		return sent
	}
	return v
}
