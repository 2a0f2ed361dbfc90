package scrape_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/agent/scrape"
)

// TestRequest checks what a scrape sends: path, params (overridden by a
// __param_ label), auth and the Accept header Prometheus sends.
func TestRequest(t *testing.T) {
	reqs := make(chan *http.Request, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case reqs <- r.Clone(r.Context()):
		default:
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "m 1\n")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c := newCollector()
	stop := run(t, newScraper(t, scrape.Config{
		Targets: []string{u.Host}, MetricsPath: "/probe", BearerToken: "tok",
		Params: url.Values{"module": {"http_2xx"}, "target": {"a"}},
		RelabelConfigs: []*relabel.Config{
			{Action: relabel.Replace, TargetLabel: "__param_target", Replacement: "b", Regex: relabel.MustNewRegexp("(.*)"), Separator: ";"},
		},
	}), c)
	defer stop()
	var r *http.Request
	select {
	case r = <-reqs:
	case <-time.After(10 * time.Second):
		t.Fatal("no scrape")
	}
	if r.URL.Path != "/probe" || r.URL.Query().Get("module") != "http_2xx" || r.URL.Query().Get("target") != "b" {
		t.Errorf("url %v", r.URL)
	}
	if r.Header.Get("Authorization") != "Bearer tok" {
		t.Errorf("authorization %q", r.Header.Get("Authorization"))
	}
	if a := r.Header.Get("Accept"); !strings.HasPrefix(a, "application/openmetrics-text;version=1.0.0") || !strings.Contains(a, "text/plain;version=0.0.4") {
		t.Errorf("accept %q", a)
	}
	// Samples without a timestamp carry the scrape's start time.
	rec := c.waitRecords(t, 1)[0]
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(rec.Body); err != nil {
		t.Fatal(err)
	}
	for _, ts := range wr.Timeseries {
		if got := ts.Samples[0].Timestamp; got != rec.Time.UnixMilli() {
			t.Errorf("%v at %d, want scrape start %d", ts.Labels, got, rec.Time.UnixMilli())
		}
	}
}

func TestExplicitTimestamp(t *testing.T) {
	ep := newEndpoint(t, "application/openmetrics-text; version=1.0.0", "# TYPE a gauge\na 1 1700000000.5\n# EOF\n")
	c := newCollector()
	run(t, newScraper(t, scrape.Config{Targets: []string{ep.addr()}}), c)
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(c.waitRecords(t, 1)[0].Body); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ts := range wr.Timeseries {
		if ts.Labels[0].Value == "a" {
			found = true
			if ts.Samples[0].Timestamp != 1700000000500 {
				t.Errorf("a at %d, want 1700000000500", ts.Samples[0].Timestamp)
			}
		}
	}
	if !found {
		t.Error("series a missing")
	}
}
