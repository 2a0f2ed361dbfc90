package scrape_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/agent/scrape"
	"github.com/sluicehq/sluice/agent/source"
)

// endpoint is an httptest server whose body and content type tests change.
type endpoint struct {
	srv  *httptest.Server
	mu   sync.Mutex
	body string
	ct   string
	hits atomic.Int64
	// delay, if set, makes each scrape slower than that.
	delay time.Duration
}

func newEndpoint(t *testing.T, ct, body string) *endpoint {
	e := &endpoint{ct: ct, body: body}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		e.mu.Lock()
		body, ct, delay := e.body, e.ct, e.delay
		e.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", ct)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) addr() string {
	u, _ := url.Parse(e.srv.URL)
	return u.Host
}

func (e *endpoint) set(body string) {
	e.mu.Lock()
	e.body = body
	e.mu.Unlock()
}

// collector is an Emitter that keeps every record. It keeps copies of
// the bodies, as a real downstream does before it acknowledges: a source
// may reuse a body once its record is acknowledged.
type collector struct {
	mu   sync.Mutex
	recs []source.Record
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1000)} }

func (c *collector) Emit(ctx context.Context, recs []source.Record, ack func(error)) error {
	c.mu.Lock()
	for _, r := range recs {
		r.Body = bytes.Clone(r.Body)
		c.recs = append(c.recs, r)
	}
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
	if ack != nil {
		ack(nil)
	}
	return nil
}

// waitRecords waits until at least n records arrived and returns them.
func (c *collector) waitRecords(t *testing.T, n int) []source.Record {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.recs) >= n {
			out := append([]source.Record(nil), c.recs...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("waited 10s for %d records", n)
		}
	}
}

// run starts s and returns a function that stops it and waits.
func run(t *testing.T, s *scrape.Scraper, e source.Emitter) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, e) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			stop()
		}
	})
	return stop
}

// decode decodes a record's body, checking its key and properties.
// firstGood returns the first scrape c received whose up is 1, decoded:
// tests scrape every 100ms with a timeout as long, which a loaded
// machine can miss once.
func (c *collector) firstGood(t *testing.T) map[string]float64 {
	t.Helper()
	for n := 1; ; n++ {
		got := decode(t, c.waitRecords(t, n)[n-1])
		for k, v := range got {
			if strings.Contains(k, `__name__="up"`) && v == 1 {
				return got
			}
		}
		if n == 20 {
			t.Fatalf("20 scrapes without up 1; the last: %v", got)
		}
	}
}

func decode(t *testing.T, r source.Record) map[string]float64 {
	t.Helper()
	if got := r.Properties[source.PropContentType]; got != source.ContentTypeWriteRequest {
		t.Fatalf("content-type %q", got)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(r.Body); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	out := make(map[string]float64)
	for _, ts := range wr.Timeseries {
		if len(ts.Samples) != 1 {
			t.Fatalf("series %v has %d samples", ts.Labels, len(ts.Samples))
		}
		if !sort.SliceIsSorted(ts.Labels, func(i, j int) bool { return ts.Labels[i].Name < ts.Labels[j].Name }) {
			t.Fatalf("labels not sorted: %v", ts.Labels)
		}
		for _, l := range ts.Labels {
			if l.Value == "" || l.Name == "" {
				t.Fatalf("empty label in %v", ts.Labels)
			}
		}
		out[labelString(ts.Labels)] = ts.Samples[0].Value
	}
	return out
}

func labelString(ls []prompb.Label) string {
	var b strings.Builder
	b.WriteString("{")
	for i, l := range ls {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
	}
	b.WriteString("}")
	return b.String()
}

func isStale(v float64) bool { return math.Float64bits(v) == value.StaleNaN }

// series builds the labelString of sorted name/value pairs.
func series(pairs ...string) string {
	var ls []prompb.Label
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, prompb.Label{Name: pairs[i], Value: pairs[i+1]})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	return labelString(ls)
}

// waitFor waits for a record for which match returns true, and returns
// it with its decoded samples.
func (c *collector) waitFor(t *testing.T, match func(r source.Record, s map[string]float64) bool) (source.Record, map[string]float64) {
	t.Helper()
	for i := 0; ; i++ {
		recs := c.waitRecords(t, i+1)
		r := recs[i]
		s := decode(t, r)
		if match(r, s) {
			return r, s
		}
	}
}
