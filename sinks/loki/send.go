package loki

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// sender posts bodies to one URL and retries what is worth retrying.
type sender struct {
	client *httpclient.Client
	url    string
	shown  string      // url with any password redacted, for logs and errors
	header http.Header // set on every request
	retry  config.Retry
	name   string
	lg     *slog.Logger
	set    *metrics.Set

	retries   *metrics.Counter
	sentBytes *metrics.Counter
	rejected  *metrics.Counter
}

// errorBodyLimit bounds how much of an error response is kept for the
// log and the error; drainLimit how much more is read so the connection
// can be reused.
const (
	errorBodyLimit = 1 << 10
	drainLimit     = 64 << 10
)

// attemptError is a failed attempt; retriable says whether another may
// succeed, wait is what Retry-After asked for.
type attemptError struct {
	err       error
	retriable bool
	wait      time.Duration
}

// redacted returns raw with any password in it replaced by xxxxx.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// post sends body, which carries events events, until the backend
// accepts it, rejects it (a 4xx: the events are dropped, counted and
// logged, and post returns nil) or retry.max_elapsed has passed since the
// first failure (post returns the last error).
func (s *sender) post(ctx context.Context, body []byte, events int) error {
	backoff := component.Backoff{Initial: s.retry.InitialBackoff.D(), Max: s.retry.MaxBackoff.D()}
	var first time.Time
	for attempt := 0; ; attempt++ {
		ae := s.try(ctx, body)
		if ae == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !ae.retriable {
			s.rejected.Add(events)
			s.lg.Warn("push rejected; its events are dropped", "sink", s.name, "url", s.shown, "events", events, "error", ae.err)
			return nil
		}
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		delay := max(backoff.Delay(attempt), ae.wait)
		if now.Sub(first)+delay > s.retry.MaxElapsed.D() {
			return fmt.Errorf("push %d events to %s: gave up after %d attempts in %s: %w",
				events, s.shown, attempt+1, now.Sub(first).Round(time.Millisecond), ae.err)
		}
		s.retries.Inc()
		s.lg.Debug("push failed; retrying", "sink", s.name, "attempt", attempt+1, "delay", delay, "error", ae.err)
		if !component.Sleep(ctx, delay) {
			return ctx.Err()
		}
	}
}

// try sends body once.
func (s *sender) try(ctx context.Context, body []byte) *attemptError {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return &attemptError{err: fmt.Errorf("build request: %w", err)}
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return &attemptError{err: err, retriable: true}
	}
	defer resp.Body.Close()
	s.set.GetOrCreateCounter(fmt.Sprintf(`sluice_collector_sink_requests_total{sink="%s",code="%d"}`, component.Label(s.name), resp.StatusCode)).Inc()
	if resp.StatusCode/100 == 2 {
		s.sentBytes.Add(len(body))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	return &attemptError{
		err:       fmt.Errorf("%s answered %s: %s", s.shown, resp.Status, printable(msg)),
		retriable: httpclient.Retriable(resp.StatusCode),
		wait:      httpclient.RetryAfter(resp.Header, time.Now()),
	}
}

// printable returns an error body fit for a log line.
func printable(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), string(utf8.RuneError)))
	if s == "" {
		return "(empty body)"
	}
	return s
}
