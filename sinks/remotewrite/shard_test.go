package remotewrite

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

// TestShardOrder checks that with several shards sending in parallel
// and series split across many small requests, every series' samples
// reach the receiver in timestamp order, once each, even when the batch
// holds its events out of order.
func TestShardOrder(t *testing.T) {
	for _, protocol := range []string{"v1", "v2"} {
		t.Run(protocol, func(t *testing.T) { testShardOrder(t, protocol) })
	}
}

func testShardOrder(t *testing.T, protocol string) {
	const nSeries, nEvents = 50, 30
	// The recorder keeps requests in the order they arrived; the
	// answer waits a little so that the shards' requests interleave.
	var inFlight, maxInFlight atomic.Int64
	rec := newRecorder(t, func(n int, w http.ResponseWriter) {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); now > m && !maxInFlight.CompareAndSwap(m, now); m = maxInFlight.Load() {
		}
		time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		w.WriteHeader(http.StatusNoContent)
	})
	s, set, _ := testSink(t, Config{URL: rec.srv.URL, Shards: 4, MaxSamplesPerRequest: 7, Protocol: protocol})

	batch := func(first int) []*event.Event {
		var events []*event.Event
		for i := first; i < first+nEvents; i++ {
			e := &event.Event{Kind: event.KindMetric}
			for j := range nSeries {
				e.Series = append(e.Series, prompb.TimeSeries{
					Labels:  lbls("__name__", "m", "id", strconv.Itoa(j)),
					Samples: samples(float64(i*1000), float64(i)),
				})
			}
			events = append(events, e)
		}
		rand.Shuffle(len(events), func(a, b int) { events[a], events[b] = events[b], events[a] })
		return events
	}
	for w := range 2 {
		if err := s.Write(t.Context(), batch(w*nEvents)); err != nil {
			t.Fatal(err)
		}
	}
	var want []int64
	for i := range 2 * nEvents {
		want = append(want, int64(i*1000))
	}
	arrived := map[string][]int64{} // series → timestamps in arrival order
	for _, r := range rec.requests() {
		for _, ts := range r.timeseries() {
			key := ts.Labels[0].Value + "/" + ts.Labels[1].Value
			for _, s := range ts.Samples {
				arrived[key] = append(arrived[key], s.Timestamp)
			}
		}
	}
	if len(arrived) != nSeries {
		t.Fatalf("%d series arrived, want %d", len(arrived), nSeries)
	}
	for key, got := range arrived {
		if !slices.Equal(got, want) {
			t.Errorf("series %s arrived as %v, want %v", key, got, want)
		}
	}
	if got := counter(set, `sluice_collector_sink_samples_sent_total{sink="rw"}`); got != 2*nSeries*nEvents {
		t.Errorf("sent %d samples, want %d", got, 2*nSeries*nEvents)
	}
	t.Logf("%d requests, at most %d in flight", len(rec.requests()), maxInFlight.Load())
}

// TestShardsOfOneSeries checks that a series always goes to the same
// shard and that the series of a batch are spread over the shards.
func TestShardsOfOneSeries(t *testing.T) {
	b := newBatch(4)
	var events []*event.Event
	for i := range 2 {
		e := &event.Event{Kind: event.KindMetric}
		for j := range 100 {
			e.Series = append(e.Series, prompb.TimeSeries{Labels: lbls("__name__", "m", "id", strconv.Itoa(j)), Samples: samples(float64(i), 1)})
		}
		events = append(events, e)
	}
	b.add(events)
	total := 0
	for i := range b.shards {
		sh := &b.shards[i]
		if len(sh.series) == 0 {
			t.Errorf("shard %d has no series of 100", i)
		}
		for _, s := range sh.series {
			if s.nfrags != 2 {
				t.Errorf("series %v in %d fragments of shard %d, want both events' in one series", s.labels, s.nfrags, i)
			}
		}
		total += len(sh.series)
	}
	if total != 100 {
		t.Errorf("%d series in the shards, want 100", total)
	}
	b.reset()
	for i := range b.shards {
		if len(b.shards[i].series) != 0 || len(b.shards[i].index) != 0 {
			t.Errorf("shard %d not reset", i)
		}
	}
}

// TestHeadersAndAuth checks configured headers and credentials, and that
// configured headers cannot replace the protocol's own.
func TestHeadersAndAuth(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		http config.HTTPClient
		want map[string]string
	}{
		{"headers", config.HTTPClient{Headers: map[string]string{"X-Scope-OrgID": "team-a", "Content-Type": "text/plain"}},
			map[string]string{"X-Scope-Orgid": "team-a", "Content-Type": "application/x-protobuf", "Authorization": ""}},
		{"basic auth", config.HTTPClient{BasicAuth: &config.BasicAuth{Username: "u", Password: "p"}},
			map[string]string{"Authorization": "Basic dTpw"}},
		{"bearer", config.HTTPClient{BearerToken: "tok"}, map[string]string{"Authorization": "Bearer tok"}},
		{"bearer file", config.HTTPClient{BearerTokenFile: tokenFile}, map[string]string{"Authorization": "Bearer from-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, nil)
			s, _, _ := testSink(t, Config{URL: rec.srv.URL, HTTPClient: tt.http})
			if err := s.Write(t.Context(), oneSeries()); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			for k, want := range tt.want {
				if got := reqs[0].header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestSplitRequests checks how a shard's series are cut into requests of
// at most max_samples_per_request samples.
func TestSplitRequests(t *testing.T) {
	rec := newRecorder(t, nil)
	s, _, _ := testSink(t, Config{URL: rec.srv.URL, Shards: 1, MaxSamplesPerRequest: 3})
	e := metricEvent(
		prompb.TimeSeries{Labels: lbls("__name__", "a"), Samples: samples(1, 1, 2, 2, 3, 3, 4, 4)},
		prompb.TimeSeries{Labels: lbls("__name__", "b"), Samples: samples(1, 1)},
		prompb.TimeSeries{Labels: lbls("__name__", "c"), Samples: samples(1, 1, 2, 2, 3, 3)},
	)
	if err := s.Write(t.Context(), []*event.Event{e}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rec.requests() {
		got = append(got, fmt.Sprint(r.series()))
	}
	want := []string{
		`[{__name__="a"} 1:1 2:2 3:3]`,
		`[{__name__="a"} 4:4 {__name__="b"} 1:1 {__name__="c"} 1:1]`,
		`[{__name__="c"} 2:2 3:3]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", got, want)
	}
}
