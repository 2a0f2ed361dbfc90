package httpclienttest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

// FastRetry retries at once (1-2ms back-off) for up to a minute, so a
// test of retries does not wait on back-off.
var FastRetry = config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(2 * time.Millisecond), MaxElapsed: config.Duration(time.Minute)}

// Request is what the backend received.
type Request struct {
	Method string
	Path   string // the request URI: path and query
	Header http.Header
	Body   []byte // decompressed
	// WireBytes is the body's size as sent, compressed or not.
	WireBytes int
	At        time.Time
}

// Reply is what the backend answers.
type Reply struct {
	Code       int
	RetryAfter string // the Retry-After header, if not ""
	Body       string
}

// Backend is an HTTP server that records the requests it gets and
// answers them from a script.
type Backend struct {
	// URL is the server's base URL.
	URL string
	// OnRequest, if set, is called with the number of requests so far
	// (this one included) before the request is answered.
	OnRequest func(n int)

	t      testing.TB
	mu     sync.Mutex
	reqs   []Request
	script []Reply
}

// NewBackend starts a backend, closed at the end of the test, that
// answers the replies of script in order, then the last one again, or
// 200 if script is empty.
func NewBackend(t testing.TB, script ...Reply) *Backend {
	b := &Backend{t: t, script: script}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	b.URL = srv.URL
	return b
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		b.t.Errorf("read body: %v", err)
	}
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			b.t.Errorf("gunzip: %v", err)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			b.t.Errorf("gunzip: %v", err)
		}
	}
	b.mu.Lock()
	b.reqs = append(b.reqs, Request{r.Method, r.URL.RequestURI(), r.Header.Clone(), body, len(raw), time.Now()})
	n := len(b.reqs)
	rep := Reply{Code: http.StatusOK}
	switch {
	case n <= len(b.script):
		rep = b.script[n-1]
	case len(b.script) > 0:
		rep = b.script[len(b.script)-1]
	}
	b.mu.Unlock()
	if b.OnRequest != nil {
		b.OnRequest(n)
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	w.WriteHeader(rep.Code)
	_, _ = io.WriteString(w, rep.Body)
}

// Requests returns the requests received so far.
func (b *Backend) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.reqs...)
}

// Sink is what a sink under test offers.
type Sink interface {
	Write(ctx context.Context, events []*event.Event) error
	Close(ctx context.Context) error
}

// Start checks a sink's config with validate, builds the sink with
// newSink under the name name and closes it at the end of the test. It
// returns the sink, its metrics and its logs (text).
func Start[S Sink](t testing.TB, name string, validate func() error, newSink func(component.Settings) (S, error)) (S, *metrics.Set, *bytes.Buffer) {
	t.Helper()
	if err := validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	set := metrics.NewSet()
	var logs bytes.Buffer
	s, err := newSink(component.Settings{Name: name, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: set})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, set, &logs
}

// Counter returns the value of the counter name of set.
func Counter(set *metrics.Set, name string) uint64 {
	return set.GetOrCreateCounter(name).Get()
}

// CheckCounters reports an error for each counter of set whose value
// is not what want says.
func CheckCounters(t testing.TB, set *metrics.Set, want map[string]uint64) {
	t.Helper()
	for name, w := range want {
		if got := Counter(set, name); got != w {
			t.Errorf("%s = %d, want %d", name, got, w)
		}
	}
}

// BenchEvents returns n log events of 10 hosts, each a message of about
// 90 bytes and the host in meta, and the bytes of their messages.
func BenchEvents(n int) ([]*event.Event, int) {
	events := make([]*event.Event, n)
	lineBytes := 0
	for i := range events {
		events[i] = &event.Event{Kind: event.KindLog, Time: time.Unix(1700000000, int64(i)),
			Fields: event.FieldsOf(map[string]any{"message": fmt.Sprintf("GET /api/v1/items/%d 200 %s", i, strings.Repeat("x", 60))}),
			Meta:   map[string]string{"host": fmt.Sprintf("web-%d", i%10)}}
		lineBytes += len(events[i].Message())
	}
	return events, lineBytes
}

// BenchWrite writes events again and again to the sink newSink builds
// for a server at url that reads and discards each body and answers 204.
// lineBytes is what a Write counts for b.SetBytes. The first Write, which
// grows the sink's buffers, is not timed.
func BenchWrite[S Sink](b *testing.B, events []*event.Event, lineBytes int, newSink func(url string, set component.Settings) (S, error)) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s, err := newSink(srv.URL, component.Settings{Name: "bench", Logger: slog.New(slog.DiscardHandler), Metrics: metrics.NewSet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	if err := s.Write(context.Background(), events); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(lineBytes))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(context.Background(), events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}
