package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

func oneSeries() []*event.Event {
	return []*event.Event{metricEvent(prompb.TimeSeries{Labels: lbls("__name__", "up"), Samples: samples(1000, 1, 2000, 1)})}
}

// fastRetry retries quickly, for tests.
var fastRetry = config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(5 * time.Millisecond), MaxElapsed: config.Duration(10 * time.Second)}

// TestRetries checks that transient answers are retried until the
// receiver accepts the request, and counted.
func TestRetries(t *testing.T) {
	tests := []struct {
		name    string
		answers []int // status of each attempt before a 204
	}{
		{"500", []int{500}},
		{"503 twice", []int{503, 503}},
		{"429", []int{429}},
		{"408 then 502", []int{408, 502}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(n int, w http.ResponseWriter) {
				if n < len(tt.answers) {
					http.Error(w, "try again", tt.answers[n])
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			s, set, _ := testSink(t, Config{URL: rec.srv.URL, Retry: fastRetry})
			if err := s.Write(t.Context(), oneSeries()); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != len(tt.answers)+1 {
				t.Fatalf("%d requests, want %d", len(reqs), len(tt.answers)+1)
			}
			for i, r := range reqs {
				if got, want := strings.Join(r.series(), ";"), `{__name__="up"} 1000:1 2000:1`; got != want {
					t.Errorf("attempt %d sent %s, want %s", i, got, want)
				}
			}
			codes := map[int]uint64{204: 1}
			for _, c := range tt.answers {
				codes[c]++
			}
			for code, want := range codes {
				if got := counter(set, fmt.Sprintf(`sluice_collector_sink_requests_total{sink="rw",code="%d"}`, code)); got != want {
					t.Errorf("requests with code %d: %d, want %d", code, got, want)
				}
			}
			if got := counter(set, `sluice_collector_sink_retries_total{sink="rw"}`); got != uint64(len(tt.answers)) {
				t.Errorf("retries %d, want %d", got, len(tt.answers))
			}
			if got := counter(set, `sluice_collector_sink_samples_sent_total{sink="rw"}`); got != 2 {
				t.Errorf("samples sent %d, want 2", got)
			}
		})
	}
}

// TestRetryAfter checks that a 429's Retry-After is waited for even
// when the back-off is much shorter.
func TestRetryAfter(t *testing.T) {
	rec := newRecorder(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s, _, _ := testSink(t, Config{URL: rec.srv.URL, Retry: fastRetry})
	if err := s.Write(t.Context(), oneSeries()); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if wait := reqs[1].at.Sub(reqs[0].at); wait < time.Second {
		t.Errorf("retried after %s, want at least the 1s of Retry-After", wait)
	}
}

// TestRejected checks that a 4xx drops the request's samples, counts and
// logs them, and that Write goes on with the next requests.
func TestRejected(t *testing.T) {
	long := strings.Repeat("x", 300)
	rec := newRecorder(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			http.Error(w, "out of order sample "+long, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s, set, log := testSink(t, Config{URL: rec.srv.URL, Shards: 1, MaxSamplesPerRequest: 2, Retry: fastRetry})
	events := []*event.Event{metricEvent(prompb.TimeSeries{Labels: lbls("__name__", "up"), Samples: samples(1000, 1, 2000, 2, 3000, 3)})}
	if err := s.Write(t.Context(), events); err != nil {
		t.Fatalf("Write = %v, want nil after a 400", err)
	}
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (no retry of the 400)", len(reqs))
	}
	if got, want := strings.Join(reqs[1].series(), ";"), `{__name__="up"} 3000:3`; got != want {
		t.Errorf("second request %s, want %s", got, want)
	}
	for name, want := range map[string]uint64{
		`sluice_collector_sink_dropped_total{sink="rw",reason="4xx"}`: 2,
		`sluice_collector_sink_samples_sent_total{sink="rw"}`:         1,
		`sluice_collector_sink_requests_total{sink="rw",code="400"}`:  1,
		`sluice_collector_sink_retries_total{sink="rw"}`:              0,
	} {
		if got := counter(set, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	// The first 256 bytes of the body are logged, not more.
	snippet := ("out of order sample " + long)[:256]
	if l := log.String(); !strings.Contains(l, "status=400") || !strings.Contains(l, `response="`+snippet+`"`) {
		t.Errorf("log does not have the status and the body's first 256 bytes:\n%s", l)
	}
}

// TestGiveUp checks the error Write returns once retry.max_elapsed is
// spent, and that the batch can be written again.
func TestGiveUp(t *testing.T) {
	fail := true
	rec := newRecorder(t, func(n int, w http.ResponseWriter) {
		if fail {
			http.Error(w, "disk full", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	retry := config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(2 * time.Millisecond), MaxElapsed: config.Duration(50 * time.Millisecond)}
	s, set, _ := testSink(t, Config{URL: rec.srv.URL, Retry: retry})
	events := oneSeries()
	err := s.Write(t.Context(), events)
	if err == nil {
		t.Fatal("Write = nil with a receiver answering 500")
	}
	msg := err.Error()
	prefix := "remote write to " + rec.srv.URL + ": shard "
	suffix := "(retry.max_elapsed 50ms): receiver answered 500 Internal Server Error: \"disk full\\n\""
	if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, ": 2 samples not accepted after ") || !strings.HasSuffix(msg, suffix) {
		t.Errorf("error %q, want %q...%q", msg, prefix, suffix)
	}
	attempts := len(rec.requests())
	if got := counter(set, `sluice_collector_sink_retries_total{sink="rw"}`); got != uint64(attempts-1) || attempts < 2 {
		t.Errorf("retries %d after %d attempts", got, attempts)
	}
	rec.mu.Lock()
	fail = false
	rec.mu.Unlock()
	if err := s.Write(t.Context(), events); err != nil {
		t.Fatalf("Write again: %v", err)
	}
}

// TestCancel checks that Write returns ctx's error soon when ctx ends
// during back-off or during a request.
func TestCancel(t *testing.T) {
	for _, hang := range []bool{false, true} {
		t.Run(fmt.Sprintf("hang=%v", hang), func(t *testing.T) {
			release := make(chan struct{})
			rec := newRecorder(t, func(n int, w http.ResponseWriter) {
				if hang {
					<-release
				}
				http.Error(w, "down", http.StatusServiceUnavailable)
			})
			defer close(release)
			retry := config.Retry{InitialBackoff: config.Duration(time.Hour), MaxBackoff: config.Duration(time.Hour), MaxElapsed: config.Duration(10 * time.Hour)}
			s, _, _ := testSink(t, Config{URL: rec.srv.URL, Retry: retry})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- s.Write(ctx, oneSeries()) }()
			deadline := time.Now().Add(10 * time.Second)
			for len(rec.requests()) == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) || err.Error() != "context canceled" {
				t.Errorf("Write = %v, want context.Canceled", err)
			}
		})
	}
}

// TestV2PartialWrite checks that samples a v2 receiver says it did not
// write are counted as dropped.
func TestV2PartialWrite(t *testing.T) {
	rec := newRecorder(t, func(n int, w http.ResponseWriter) {
		w.Header().Set("X-Prometheus-Remote-Write-Samples-Written", "1")
		w.Header().Set("X-Prometheus-Remote-Write-Histograms-Written", "0")
		w.WriteHeader(http.StatusNoContent)
	})
	s, set, _ := testSink(t, Config{URL: rec.srv.URL, Protocol: "v2"})
	if err := s.Write(t.Context(), oneSeries()); err != nil {
		t.Fatal(err)
	}
	if got := counter(set, `sluice_collector_sink_samples_sent_total{sink="rw"}`); got != 1 {
		t.Errorf("sent %d, want 1", got)
	}
	if got := counter(set, `sluice_collector_sink_dropped_total{sink="rw",reason="not_written"}`); got != 1 {
		t.Errorf("not written %d, want 1", got)
	}
}
