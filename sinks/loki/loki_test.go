package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
	"github.com/sluicehq/sluice/pipelines/httpclient"
	"github.com/sluicehq/sluice/pipelines/httpclient/httpclienttest"
)

// The shared fake backend and helpers, under the names these tests use.
type reply = httpclienttest.Reply

var counter = httpclienttest.Counter

// newFakeLoki starts a backend that answers the replies of script in
// order, then 204 as Loki does.
func newFakeLoki(t *testing.T, script ...reply) *httpclienttest.Backend {
	return httpclienttest.NewBackend(t, append(script, reply{Code: http.StatusNoContent})...)
}

// testSink builds a sink named "loki" with fast retries.
func testSink(t *testing.T, cfg Config) (*Sink, *metrics.Set, *bytes.Buffer) {
	t.Helper()
	if cfg.Retry == (config.Retry{}) {
		cfg.Retry = config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(5 * time.Millisecond), MaxElapsed: config.Duration(time.Minute)}
	}
	return httpclienttest.Start(t, "loki", cfg.Validate, func(set component.Settings) (*Sink, error) { return New(cfg, set) })
}

var t0 = time.Unix(1700000000, 0)

func logEvent(msg string, at time.Time, meta map[string]string) *event.Event {
	return event.NewLog(msg, at, meta)
}

func TestWritePushFormat(t *testing.T) {
	f := newFakeLoki(t)
	s, set, _ := testSink(t, Config{
		URL:      f.URL,
		TenantID: "team-a",
		Batching: httpclient.Batching{HTTPClient: config.HTTPClient{BasicAuth: &config.BasicAuth{Username: "u", Password: "p"}, Headers: map[string]string{"X-Extra": "1"}}},
	})
	web := map[string]string{"host": "web-1", "source": "app"}
	db := map[string]string{"host": "db-1", "source": "app"}
	metric := &event.Event{Kind: event.KindMetric, Time: t0, Series: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "__name__", Value: "up"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}}}}
	events := []*event.Event{
		logEvent("third", t0.Add(3*time.Second), web),
		logEvent(`first "quoted"`, t0.Add(time.Second), web),
		logEvent("db line", t0.Add(2*time.Second), db),
		metric,
		logEvent("no labels", t0, nil),
		logEvent("second, same time as the next", t0.Add(2*time.Second), web),
		logEvent("after second", t0.Add(2*time.Second), web),
		logEvent("host only", t0.Add(500*time.Millisecond), map[string]string{"host": "web-1"}),
	}
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatalf("Write: %v", err)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	want := `{"streams":[` +
		`{"stream":{"host":"web-1","source":"app"},"values":[` +
		`["1700000001000000000","first \"quoted\""],` +
		`["1700000002000000000","second, same time as the next"],` +
		`["1700000002000000000","after second"],` +
		`["1700000003000000000","third"]]},` +
		`{"stream":{"host":"db-1","source":"app"},"values":[["1700000002000000000","db line"]]},` +
		`{"stream":{"host":"web-1"},"values":[["1700000000500000000","host only"]]}]}`
	if string(r.Body) != want {
		t.Errorf("body:\n got %s\nwant %s", r.Body, want)
	}
	if !json.Valid(r.Body) {
		t.Errorf("body is not valid JSON")
	}
	checks := map[string]string{
		"method":        r.Method,
		"path":          r.Path,
		"Content-Type":  r.Header.Get("Content-Type"),
		"X-Scope-OrgID": r.Header.Get("X-Scope-OrgID"),
		"Authorization": r.Header.Get("Authorization"),
		"X-Extra":       r.Header.Get("X-Extra"),
		"encoding":      r.Header.Get("Content-Encoding"),
	}
	wantChecks := map[string]string{
		"method":        "POST",
		"path":          "/loki/api/v1/push",
		"Content-Type":  "application/json",
		"X-Scope-OrgID": "team-a",
		"Authorization": "Basic dTpw",
		"X-Extra":       "1",
		"encoding":      "",
	}
	for k, w := range wantChecks {
		if checks[k] != w {
			t.Errorf("%s = %q, want %q", k, checks[k], w)
		}
	}
	httpclienttest.CheckCounters(t, set, map[string]uint64{
		`sluice_collector_sink_events_dropped_total{sink="loki",reason="not_logs"}`:  1,
		`sluice_collector_sink_events_dropped_total{sink="loki",reason="no_labels"}`: 1,
		`sluice_collector_sink_events_dropped_total{sink="loki",reason="rejected"}`:  0,
		`sluice_collector_sink_requests_total{sink="loki",code="204"}`:               1,
		`sluice_collector_sink_retries_total{sink="loki"}`:                           0,
		`sluice_collector_sink_sent_bytes_total{sink="loki"}`:                        uint64(len(want)),
	})

	// The same batch again (the collector's retry) pushes the same body.
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatalf("second Write: %v", err)
	}
	if reqs = f.Requests(); len(reqs) != 2 || string(reqs[1].Body) != want {
		t.Errorf("second Write: %d requests, body %s", len(reqs), reqs[len(reqs)-1].Body)
	}
}

func TestWriteEncodings(t *testing.T) {
	ev := &event.Event{Kind: event.KindLog, Time: t0,
		Fields: event.FieldsOf(map[string]any{"message": "hello\n", "level": "info", "http": map[string]any{"status": 404.0}, "trace": "abc"}),
		Meta:   map[string]string{"host": "h1", "app": "shop"},
	}
	bare := &event.Event{Kind: event.KindLog, Time: t0.Add(time.Nanosecond), Fields: event.FieldsOf(map[string]any{"message": 42.5}), Meta: map[string]string{"host": "h1", "app": "shop"}}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "text with labels from fields and literal",
			cfg:  Config{Labels: map[string]string{"job": "sluice", "level": "{{ level }}", "app": "{{meta.app}}-{{ http.status }}"}},
			want: `{"streams":[{"stream":{"app":"shop-","job":"sluice"},"values":[["1700000000000000001","42.5"]]},` +
				`{"stream":{"app":"shop-404","job":"sluice","level":"info"},"values":[["1700000000000000000","hello\n"]]}]}`,
		},
		{
			name: "json line",
			cfg:  Config{Encoding: "json", Labels: map[string]string{"host": "{{ meta.host }}"}},
			want: `{"streams":[{"stream":{"host":"h1"},"values":[` +
				`["1700000000000000000","{\"timestamp\":\"2023-11-14T22:13:20Z\",\"http\":{\"status\":404},\"level\":\"info\",\"message\":\"hello\\n\",\"trace\":\"abc\",\"meta\":{\"app\":\"shop\",\"host\":\"h1\"}}"],` +
				`["1700000000000000001","{\"timestamp\":\"2023-11-14T22:13:20.000000001Z\",\"message\":42.5,\"meta\":{\"app\":\"shop\",\"host\":\"h1\"}}"]]}]}`,
		},
		{
			name: "structured metadata, left out when empty",
			cfg:  Config{Labels: map[string]string{"host": "{{ meta.host }}"}, StructuredMetadata: map[string]string{"trace_id": "{{ trace }}", "status": "{{ http.status }}"}},
			want: `{"streams":[{"stream":{"host":"h1"},"values":[` +
				`["1700000000000000000","hello\n",{"status":"404","trace_id":"abc"}],` +
				`["1700000000000000001","42.5"]]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLoki(t)
			tt.cfg.URL = f.URL + "/loki/api/v1/push"
			s, _, _ := testSink(t, tt.cfg)
			if err := s.Write(context.Background(), []*event.Event{bare, ev}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			if got := string(reqs[0].Body); got != tt.want {
				t.Errorf("body:\n got %s\nwant %s", got, tt.want)
			}
			if reqs[0].Path != PushPath {
				t.Errorf("path %q, want %q", reqs[0].Path, PushPath)
			}
		})
	}
}

func TestWriteGzipAndBearer(t *testing.T) {
	f := newFakeLoki(t)
	s, set, _ := testSink(t, Config{URL: f.URL + "/prefix/", Batching: httpclient.Batching{Compression: "gzip", HTTPClient: config.HTTPClient{BearerToken: "tok"}}})
	if err := s.Write(context.Background(), []*event.Event{logEvent("zipped", t0, map[string]string{"host": "h"})}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	want := `{"streams":[{"stream":{"host":"h"},"values":[["1700000000000000000","zipped"]]}]}`
	if string(r.Body) != want {
		t.Errorf("body %s, want %s", r.Body, want)
	}
	if got := r.Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("Content-Encoding %q", got)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer tok" {
		t.Errorf("Authorization %q", got)
	}
	if r.Path != "/prefix/loki/api/v1/push" {
		t.Errorf("path %q", r.Path)
	}
	if got := counter(set, `sluice_collector_sink_sent_bytes_total{sink="loki"}`); got != uint64(r.WireBytes) {
		t.Errorf("sent bytes %d, want the %d compressed bytes", got, r.WireBytes)
	}
}

func TestWriteRetries(t *testing.T) {
	f := newFakeLoki(t,
		reply{Code: 500, Body: "ingester down"},
		reply{Code: 429, RetryAfter: "0", Body: "slow down"},
		reply{Code: 503},
	)
	s, set, _ := testSink(t, Config{URL: f.URL})
	events := []*event.Event{logEvent("a", t0, map[string]string{"host": "h"})}
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatalf("Write: %v", err)
	}
	reqs := f.Requests()
	if len(reqs) != 4 {
		t.Fatalf("got %d requests, want 4", len(reqs))
	}
	for i, r := range reqs[1:] {
		if !bytes.Equal(r.Body, reqs[0].Body) {
			t.Errorf("retry %d sent %s, want %s", i+1, r.Body, reqs[0].Body)
		}
	}
	httpclienttest.CheckCounters(t, set, map[string]uint64{
		`sluice_collector_sink_retries_total{sink="loki"}`:             3,
		`sluice_collector_sink_requests_total{sink="loki",code="500"}`: 1,
		`sluice_collector_sink_requests_total{sink="loki",code="429"}`: 1,
		`sluice_collector_sink_requests_total{sink="loki",code="503"}`: 1,
		`sluice_collector_sink_requests_total{sink="loki",code="204"}`: 1,
	})
}

func TestWriteGivesUp(t *testing.T) {
	tests := []struct {
		name     string
		script   []reply
		elapsed  time.Duration
		attempts int
		errHas   string
	}{
		{
			name:     "5xx until max_elapsed",
			script:   []reply{{Code: 502, Body: "bad gateway"}, {Code: 502, Body: "bad gateway"}, {Code: 502, Body: "bad gateway"}, {Code: 502, Body: "bad gateway"}, {Code: 502, Body: "bad gateway"}, {Code: 502, Body: "bad gateway"}},
			elapsed:  20 * time.Millisecond,
			attempts: 0, // as many as fit
			errHas:   "502 Bad Gateway: bad gateway",
		},
		{
			// Retry-After asks for longer than max_elapsed allows: no
			// point waiting.
			name:     "Retry-After beyond max_elapsed",
			script:   []reply{{Code: 429, RetryAfter: "3600", Body: "rate limited"}},
			elapsed:  time.Minute,
			attempts: 1,
			errHas:   "gave up after 1 attempts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every request past the script fails too: the backend
			// answers the script's last reply again.
			f := httpclienttest.NewBackend(t, tt.script...)
			s, _, _ := testSink(t, Config{URL: f.URL, Batching: httpclient.Batching{Retry: config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(2 * time.Millisecond), MaxElapsed: config.Duration(tt.elapsed)}}})
			err := s.Write(context.Background(), []*event.Event{logEvent("a", t0, map[string]string{"host": "h"})})
			if err == nil {
				t.Fatal("Write succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), f.URL+PushPath) {
				t.Errorf("error %q does not name the URL and %q", err, tt.errHas)
			}
			n := len(f.Requests())
			if tt.attempts > 0 && n != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
			if n < 1 {
				t.Errorf("no attempt made")
			}
		})
	}
}

func TestWriteRejectedIsDropped(t *testing.T) {
	f := newFakeLoki(t, reply{Code: 400, Body: "entry for stream '{host=\"h\"}' has timestamp too old"})
	s, set, logs := testSink(t, Config{URL: f.URL})
	events := []*event.Event{logEvent("a", t0, map[string]string{"host": "h"}), logEvent("b", t0, map[string]string{"host": "h"})}
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatalf("Write: %v, want nil (a 4xx drops)", err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("%d requests, want 1 (a 400 is not retried)", n)
	}
	if got := counter(set, `sluice_collector_sink_events_dropped_total{sink="loki",reason="rejected"}`); got != 2 {
		t.Errorf("rejected drops %d, want 2", got)
	}
	if got := counter(set, `sluice_collector_sink_requests_total{sink="loki",code="400"}`); got != 1 {
		t.Errorf("400 responses %d, want 1", got)
	}
	if !strings.Contains(logs.String(), "has timestamp too old") {
		t.Errorf("log does not hold Loki's answer:\n%s", logs)
	}
}

func TestWriteContextCancel(t *testing.T) {
	f := httpclienttest.NewBackend(t, reply{Code: 503}) // to every push
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.OnRequest = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	s, _, _ := testSink(t, Config{URL: f.URL, Batching: httpclient.Batching{Retry: config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(time.Millisecond), MaxElapsed: config.Duration(time.Hour)}}})
	err := s.Write(ctx, []*event.Event{logEvent("a", t0, map[string]string{"host": "h"})})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write = %v, want context.Canceled", err)
	}
}

func TestWriteSplitsByBatchBytes(t *testing.T) {
	f := newFakeLoki(t)
	const batch = 400
	s, set, _ := testSink(t, Config{URL: f.URL, Batching: httpclient.Batching{BatchBytes: batch}})
	var events []*event.Event
	type line struct{ host, msg string }
	var want []line
	for i := range 30 {
		host := fmt.Sprintf("h%d", i%3)
		msg := fmt.Sprintf("line %02d %s", i, strings.Repeat("x", i))
		events = append(events, logEvent(msg, t0.Add(time.Duration(i)*time.Second), map[string]string{"host": host}))
	}
	for h := range 3 {
		for i := h; i < 30; i += 3 {
			want = append(want, line{fmt.Sprintf("h%d", h), events[i].Message()})
		}
	}
	big := logEvent(strings.Repeat("B", 2*batch), t0.Add(time.Hour), map[string]string{"host": "h2"})
	events = append(events, big)
	want = append(want, line{"h2", big.Message()})
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatalf("Write: %v", err)
	}
	reqs := f.Requests()
	if len(reqs) < 3 {
		t.Fatalf("%d pushes, want several", len(reqs))
	}
	var got []line
	var lastTS = map[string]string{}
	for i, r := range reqs {
		var p struct {
			Streams []struct {
				Stream map[string]string `json:"stream"`
				Values [][]string        `json:"values"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("push %d: %v: %s", i, err, r.Body)
		}
		oversized := strings.Contains(string(r.Body), big.Message())
		if len(r.Body) > batch && !(oversized && len(p.Streams) == 1 && len(p.Streams[0].Values) == 1) {
			t.Errorf("push %d is %d bytes > batch_bytes %d and not a lone oversized entry", i, len(r.Body), batch)
		}
		for _, st := range p.Streams {
			for _, v := range st.Values {
				h := st.Stream["host"]
				if len(v[0]) != 19 || v[0] < lastTS[h] {
					t.Errorf("push %d: stream %s: timestamp %s after %s", i, h, v[0], lastTS[h])
				}
				lastTS[h] = v[0]
				got = append(got, line{h, v[1]})
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if got := counter(set, `sluice_collector_sink_requests_total{sink="loki",code="204"}`); got != uint64(len(reqs)) {
		t.Errorf("204 count %d, want %d", got, len(reqs))
	}
}

// A push that fails stops the Write: later pushes are not sent, and the
// error goes back to the collector, which sends the whole batch again.
func TestWriteSplitStopsAtFailure(t *testing.T) {
	f := httpclienttest.NewBackend(t, reply{Code: 204}, reply{Code: 500}) // then 500 to every push
	s, _, _ := testSink(t, Config{URL: f.URL, Batching: httpclient.Batching{BatchBytes: 120, Retry: config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(time.Millisecond), MaxElapsed: config.Duration(10 * time.Millisecond)}}})
	var events []*event.Event
	for i := range 6 {
		events = append(events, logEvent(fmt.Sprintf("line %d", i), t0.Add(time.Duration(i)), map[string]string{"host": "h"}))
	}
	if err := s.Write(context.Background(), events); err == nil {
		t.Fatal("Write succeeded, want the second push's error")
	}
	reqs := f.Requests()
	if len(reqs) < 2 || !bytes.Equal(reqs[len(reqs)-1].Body, reqs[1].Body) {
		t.Fatalf("the retried push changed, or no second push")
	}
	if bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Errorf("second push repeats the first")
	}
}
