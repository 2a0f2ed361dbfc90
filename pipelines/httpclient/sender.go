package httpclient

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
)

// Sender sends bodies to one URL for a sink and retries what is worth
// retrying: the loop the HTTP sinks share.
type Sender struct {
	client *Client
	method string
	verb   string // what a request is called in logs and errors: "push", "POST"
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

// NewSender returns a Sender of method requests to rawURL with header
// for the sink of set; verb names a request in logs and errors. It counts
// sluice_collector_sink_{retries,sent_bytes,requests}_total and the
// events of rejected requests in sluice_collector_sink_events_dropped_total{reason="rejected"}.
func NewSender(client *Client, method, verb, rawURL string, header http.Header, retry config.Retry, set component.Settings) *Sender {
	counter := func(format string) *metrics.Counter {
		return set.Metrics.GetOrCreateCounter(fmt.Sprintf(format, component.Label(set.Name)))
	}
	return &Sender{
		client: client, method: method, verb: verb, url: rawURL, shown: Redacted(rawURL), header: header,
		retry: retry.WithDefaults(), name: set.Name, lg: set.Logger, set: set.Metrics,
		retries:   counter(`sluice_collector_sink_retries_total{sink="%s"}`),
		sentBytes: counter(`sluice_collector_sink_sent_bytes_total{sink="%s"}`),
		rejected:  counter(`sluice_collector_sink_events_dropped_total{sink="%s",reason="rejected"}`),
	}
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

// Redacted returns raw with any password in it replaced by xxxxx.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

// Post sends body, which carries events events, until the backend
// accepts it, rejects it (a 4xx: the events are dropped, counted and
// logged, and Post returns nil) or retry.max_elapsed has passed since the
// first failure (Post returns the last error).
func (s *Sender) Post(ctx context.Context, body []byte, events int) error {
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
			s.lg.Warn(s.verb+" rejected; its events are dropped", "sink", s.name, "url", s.shown, "events", events, "error", ae.err)
			return nil
		}
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		delay := max(backoff.Delay(attempt), ae.wait)
		if now.Sub(first)+delay > s.retry.MaxElapsed.D() {
			return fmt.Errorf("%s %d events to %s: gave up after %d attempts in %s: %w",
				s.verb, events, s.shown, attempt+1, now.Sub(first).Round(time.Millisecond), ae.err)
		}
		s.retries.Inc()
		s.lg.Debug(s.verb+" failed; retrying", "sink", s.name, "attempt", attempt+1, "delay", delay, "error", ae.err)
		if !component.Sleep(ctx, delay) {
			return ctx.Err()
		}
	}
}

// try sends body once.
func (s *Sender) try(ctx context.Context, body []byte) *attemptError {
	req, err := http.NewRequestWithContext(ctx, s.method, s.url, bytes.NewReader(body))
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
		retriable: Retriable(resp.StatusCode),
		wait:      RetryAfter(resp.Header, time.Now()),
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
