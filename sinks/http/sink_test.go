package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	nethttp "net/http"
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

var (
	newBackend = httpclienttest.NewBackend
	counter    = httpclienttest.Counter
	fastRetry  = httpclienttest.FastRetry
)

// testSink builds a sink named "out".
func testSink(t *testing.T, cfg Config) (*Sink, *metrics.Set, *bytes.Buffer) {
	t.Helper()
	if cfg.Retry == (config.Retry{}) {
		cfg.Retry = fastRetry
	}
	return httpclienttest.Start(t, "out", cfg.Validate, func(set component.Settings) (*Sink, error) { return New(cfg, set) })
}

var t0 = time.Unix(1700000000, 0)

func testEvents() []*event.Event {
	return []*event.Event{
		{Kind: event.KindLog, Time: t0, Fields: event.FieldsOf(map[string]any{"message": "hello", "level": "info"}), Meta: map[string]string{"host": "h1"}},
		{Kind: event.KindLog, Time: t0.Add(time.Millisecond), Fields: event.FieldsOf(map[string]any{"message": "line\n\"two\""})},
		{Kind: event.KindMetric, Time: t0, Series: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "__name__", Value: "up"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: 1700000000000}}}}},
	}
}

const (
	json0 = `{"timestamp":"2023-11-14T22:13:20Z","level":"info","message":"hello","meta":{"host":"h1"}}`
	json1 = `{"timestamp":"2023-11-14T22:13:20.001Z","message":"line\n\"two\""}`
	json2 = `{"timestamp":"2023-11-14T22:13:20Z","series":[{"labels":{"__name__":"up"},"samples":[[1700000000000,1]]}]}`
)

func TestWriteBodies(t *testing.T) {
	tests := []struct {
		name                 string
		cfg                  Config
		method, ctype, zip   string
		auth, extra, wantRaw string
	}{
		{
			name: "ndjson default", cfg: Config{},
			method: "POST", ctype: "application/x-ndjson",
			wantRaw: json0 + "\n" + json1 + "\n" + json2 + "\n",
		},
		{
			name: "json array, PUT, basic auth, headers", cfg: Config{Method: "PUT", Encoding: "json_array",
				Batching: httpclient.Batching{HTTPClient: config.HTTPClient{BasicAuth: &config.BasicAuth{Username: "u", Password: "p"}, Headers: map[string]string{"X-Extra": "1", "Content-Type": "text/plain"}}}},
			method: "PUT", ctype: "application/json", auth: "Basic dTpw", extra: "1",
			wantRaw: "[" + json0 + "," + json1 + "," + json2 + "]",
		},
		{
			name: "gzip, bearer", cfg: Config{Batching: httpclient.Batching{Compression: "gzip", HTTPClient: config.HTTPClient{BearerToken: "tok"}}},
			method: "POST", ctype: "application/x-ndjson", zip: "gzip", auth: "Bearer tok",
			wantRaw: json0 + "\n" + json1 + "\n" + json2 + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t)
			tt.cfg.URL = b.URL + "/ingest?pipeline=x"
			s, set, _ := testSink(t, tt.cfg)
			if err := s.Write(context.Background(), testEvents()); err != nil {
				t.Fatalf("Write: %v", err)
			}
			reqs := b.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if string(r.Body) != tt.wantRaw {
				t.Errorf("body:\n got %q\nwant %q", r.Body, tt.wantRaw)
			}
			got := []string{r.Method, r.Path, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), r.Header.Get("Authorization"), r.Header.Get("X-Extra")}
			want := []string{tt.method, "/ingest?pipeline=x", tt.ctype, tt.zip, tt.auth, tt.extra}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("method, path, Content-Type, Content-Encoding, Authorization, X-Extra:\n got %q\nwant %q", got, want)
			}
			if n := counter(set, `sluice_collector_sink_sent_bytes_total{sink="out"}`); n != uint64(r.WireBytes) {
				t.Errorf("sent bytes %d, want %d", n, r.WireBytes)
			}
			if n := counter(set, `sluice_collector_sink_requests_total{sink="out",code="200"}`); n != 1 {
				t.Errorf("200 responses %d, want 1", n)
			}
		})
	}
}

func TestWriteNothing(t *testing.T) {
	b := newBackend(t)
	s, _, _ := testSink(t, Config{URL: b.URL})
	if err := s.Write(context.Background(), nil); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n := len(b.Requests()); n != 0 {
		t.Errorf("%d requests for no events, want 0", n)
	}
}

func TestWriteSplitsByBatchBytes(t *testing.T) {
	const batch = 300
	for _, encoding := range []string{"ndjson", "json_array"} {
		t.Run(encoding, func(t *testing.T) {
			b := newBackend(t)
			s, _, _ := testSink(t, Config{URL: b.URL, Encoding: encoding, Batching: httpclient.Batching{BatchBytes: batch}})
			var events []*event.Event
			var want []string
			for i := range 40 {
				msg := fmt.Sprintf("event %02d %s", i, strings.Repeat("x", i*3))
				if i == 17 {
					msg = strings.Repeat("B", 2*batch)
				}
				events = append(events, event.NewLog(msg, t0, nil))
				want = append(want, msg)
			}
			if err := s.Write(context.Background(), events); err != nil {
				t.Fatalf("Write: %v", err)
			}
			reqs := b.Requests()
			if len(reqs) < 5 {
				t.Fatalf("%d requests, want several", len(reqs))
			}
			var got []string
			for i, r := range reqs {
				var msgs []map[string]any
				if encoding == "ndjson" {
					if !bytes.HasSuffix(r.Body, []byte("\n")) {
						t.Errorf("request %d does not end in a newline", i)
					}
					for line := range strings.SplitSeq(strings.TrimSuffix(string(r.Body), "\n"), "\n") {
						var m map[string]any
						if err := json.Unmarshal([]byte(line), &m); err != nil {
							t.Fatalf("request %d: line %q: %v", i, line, err)
						}
						msgs = append(msgs, m)
					}
				} else if err := json.Unmarshal(r.Body, &msgs); err != nil {
					t.Fatalf("request %d: %v: %s", i, err, r.Body)
				}
				if len(r.Body) > batch && len(msgs) != 1 {
					t.Errorf("request %d is %d bytes > %d with %d events", i, len(r.Body), batch, len(msgs))
				}
				for _, m := range msgs {
					got = append(got, m["message"].(string))
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("events arrived as\n%q\nwant\n%q", got, want)
			}
			// Bodies are filled: two adjacent bodies would not fit in one.
			for i := 1; i < len(reqs); i++ {
				if len(reqs[i-1].Body)+len(reqs[i].Body) <= batch {
					t.Errorf("requests %d and %d (%d+%d bytes) would fit in one", i-1, i, len(reqs[i-1].Body), len(reqs[i].Body))
				}
			}
		})
	}
}

func TestWriteRetries(t *testing.T) {
	b := newBackend(t, reply{Code: 500}, reply{Code: 429, RetryAfter: "0"}, reply{Code: 408}, reply{Code: 202})
	s, set, _ := testSink(t, Config{URL: b.URL})
	if err := s.Write(context.Background(), testEvents()[:1]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	reqs := b.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for i, r := range reqs {
		if string(r.Body) != json0+"\n" {
			t.Errorf("request %d sent %q", i, r.Body)
		}
	}
	httpclienttest.CheckCounters(t, set, map[string]uint64{
		`sluice_collector_sink_retries_total{sink="out"}`:                          3,
		`sluice_collector_sink_requests_total{sink="out",code="500"}`:              1,
		`sluice_collector_sink_requests_total{sink="out",code="429"}`:              1,
		`sluice_collector_sink_requests_total{sink="out",code="408"}`:              1,
		`sluice_collector_sink_requests_total{sink="out",code="202"}`:              1,
		`sluice_collector_sink_events_dropped_total{sink="out",reason="rejected"}`: 0,
	})
}

// A Retry-After longer than the back-off is waited for. (The lower
// bound cannot flake; it costs the test a second.)
func TestWriteWaitsRetryAfter(t *testing.T) {
	b := newBackend(t, reply{Code: 429, RetryAfter: "1"}, reply{Code: 200})
	s, _, _ := testSink(t, Config{URL: b.URL})
	if err := s.Write(context.Background(), testEvents()); err != nil {
		t.Fatalf("Write: %v", err)
	}
	reqs := b.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
		t.Errorf("retried after %s, before the 1s Retry-After asked", gap)
	}
}

func TestWriteGivesUp(t *testing.T) {
	tests := []struct {
		name     string
		reply    reply
		elapsed  time.Duration
		attempts int // 0: at least 2
		errHas   string
	}{
		{name: "5xx until max_elapsed", reply: reply{Code: 503, Body: "overloaded"}, elapsed: 20 * time.Millisecond,
			errHas: "503 Service Unavailable: overloaded"},
		{name: "Retry-After beyond max_elapsed", reply: reply{Code: 429, RetryAfter: "3600"}, elapsed: time.Minute, attempts: 1,
			errHas: "gave up after 1 attempts"},
		{name: "Retry-After as a date", reply: reply{Code: 503, RetryAfter: time.Now().Add(time.Hour).UTC().Format(nethttp.TimeFormat)}, elapsed: time.Minute, attempts: 1,
			errHas: "503 Service Unavailable: (empty body)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, tt.reply)
			r := fastRetry
			r.MaxElapsed = config.Duration(tt.elapsed)
			s, _, _ := testSink(t, Config{URL: b.URL, Batching: httpclient.Batching{Retry: r}})
			err := s.Write(context.Background(), testEvents())
			if err == nil {
				t.Fatal("Write succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), "POST 3 events to "+b.URL) {
				t.Errorf("error %q does not say %q and what was sent where", err, tt.errHas)
			}
			n := len(b.Requests())
			if (tt.attempts > 0 && n != tt.attempts) || (tt.attempts == 0 && n < 2) {
				t.Errorf("%d attempts, want %d (0: several)", n, tt.attempts)
			}
		})
	}
}

func TestWriteRejectedIsDropped(t *testing.T) {
	b := newBackend(t, reply{Code: 413, Body: "payload too large"}, reply{Code: 200})
	s, set, logs := testSink(t, Config{URL: b.URL, Batching: httpclient.Batching{BatchBytes: config.Size(len(json0) + len(json1) + 2)}})
	if err := s.Write(context.Background(), testEvents()); err != nil {
		t.Fatalf("Write: %v, want nil (a 4xx drops)", err)
	}
	reqs := b.Requests()
	if len(reqs) != 2 || string(reqs[1].Body) != json2+"\n" {
		t.Fatalf("%d requests, want the rejected one then the rest", len(reqs))
	}
	if got := counter(set, `sluice_collector_sink_events_dropped_total{sink="out",reason="rejected"}`); got != 2 {
		t.Errorf("rejected drops %d, want 2", got)
	}
	if got := counter(set, `sluice_collector_sink_retries_total{sink="out"}`); got != 0 {
		t.Errorf("retries %d, want 0", got)
	}
	if !strings.Contains(logs.String(), "payload too large") {
		t.Errorf("log does not hold the backend's answer:\n%s", logs)
	}
}

func TestWriteContextCancel(t *testing.T) {
	b := newBackend(t, reply{Code: 503})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.OnRequest = func(n int) {
		if n == 3 {
			cancel()
		}
	}
	r := fastRetry
	r.MaxElapsed = config.Duration(time.Hour)
	s, _, _ := testSink(t, Config{URL: b.URL, Batching: httpclient.Batching{Retry: r}})
	if err := s.Write(ctx, testEvents()); !errors.Is(err, context.Canceled) {
		t.Errorf("Write = %v, want context.Canceled", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "minimal", cfg: Config{URL: "http://127.0.0.1:9000/in"}},
		{name: "full", cfg: Config{URL: "https://logs.example/bulk", Method: "PUT", Encoding: "json_array", Batching: httpclient.Batching{Compression: "gzip", BatchBytes: 1 << 10, Retry: fastRetry}}},
		{name: "no url", cfg: Config{}, want: []string{"url: is required: the http or https URL events are sent to"}},
		{name: "bad url", cfg: Config{URL: "logs.example/bulk"}, want: []string{`url: "logs.example/bulk" is not an http or https URL`}},
		{name: "enums", cfg: Config{URL: "http://x", Method: "GET", Encoding: "csv", Batching: httpclient.Batching{Compression: "br"}}, want: []string{
			`method: "GET" is not POST or PUT`, `encoding: "csv" is not ndjson or json_array`, `compression: "br" is not none or gzip`}},
		{name: "negative", cfg: Config{URL: "http://x", Batching: httpclient.Batching{BatchBytes: -5, Retry: config.Retry{InitialBackoff: -1}}}, want: []string{
			"batch_bytes: must not be negative", "retry.initial_backoff: must not be negative"}},
		{name: "backoff order", cfg: Config{URL: "http://x", Batching: httpclient.Batching{Retry: config.Retry{InitialBackoff: config.Duration(time.Minute), MaxBackoff: config.Duration(time.Second)}}},
			want: []string{"retry.initial_backoff: 1m0s is more than retry.max_backoff 1s"}},
		{name: "http client", cfg: Config{URL: "http://x", Batching: httpclient.Batching{HTTPClient: config.HTTPClient{BasicAuth: &config.BasicAuth{}, Timeout: -1}}}, want: []string{
			"basic_auth.username: basic auth needs a username", "timeout: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range component.FieldErrors(tt.cfg.Validate()) {
				got = append(got, fe.Path+": "+fe.Msg)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestErrorsHidePassword(t *testing.T) {
	b := newBackend(t, reply{Code: 400, Body: "bad"}, reply{Code: 503, Body: "down"})
	url := strings.Replace(b.URL, "http://", "http://user:secret@", 1)
	r := fastRetry
	r.MaxElapsed = config.Duration(5 * time.Millisecond)
	s, _, logs := testSink(t, Config{URL: url, Batching: httpclient.Batching{Retry: r}})
	if err := s.Write(context.Background(), testEvents()); err != nil {
		t.Fatalf("first Write: %v", err)
	}
	err := s.Write(context.Background(), testEvents())
	if err == nil {
		t.Fatal("second Write succeeded, want an error")
	}
	if got := b.Requests()[0].Header.Get("Authorization"); got != "Basic dXNlcjpzZWNyZXQ=" {
		t.Errorf("Authorization %q, want the URL's user", got)
	}
	for what, text := range map[string]string{"error": err.Error(), "log": logs.String()} {
		if strings.Contains(text, "secret") || !strings.Contains(text, "user:xxxxx@") {
			t.Errorf("%s does not redact the password: %s", what, text)
		}
	}
}
