package scrape_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/sluicehq/sluice/agent/scrape"
	"github.com/sluicehq/sluice/agent/source"
)

const textBody = `# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200",method="get"} 1027
http_requests_total{code="500",method="get"} 3
# TYPE temp gauge
temp 21.5
# TYPE lat histogram
lat_bucket{le="0.1"} 2
lat_bucket{le="+Inf"} 5
lat_sum 1.5
lat_count 5
`

func newScraper(t *testing.T, cfg scrape.Config) *scrape.Scraper {
	t.Helper()
	if cfg.Job == "" {
		cfg.Job = "app"
	}
	if cfg.Topic == "" {
		cfg.Topic = "metrics"
	}
	if cfg.Interval == 0 {
		cfg.Interval = 100 * time.Millisecond
	}
	s, err := scrape.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestScrapeTextFormat(t *testing.T) {
	ep := newEndpoint(t, "text/plain; version=0.0.4; charset=utf-8", textBody)
	c := newCollector()
	run(t, newScraper(t, scrape.Config{Targets: []string{ep.addr()}}), c)
	r := c.waitRecords(t, 1)[0]
	if r.Key != "app/"+ep.addr() || r.Topic != "metrics" {
		t.Fatalf("key %q topic %q", r.Key, r.Topic)
	}
	got := decode(t, r)
	tl := []string{"instance", ep.addr(), "job", "app"}
	want := map[string]float64{
		series(append(tl, "__name__", "http_requests_total", "code", "200", "method", "get")...): 1027,
		series(append(tl, "__name__", "http_requests_total", "code", "500", "method", "get")...): 3,
		series(append(tl, "__name__", "temp")...):                                                21.5,
		series(append(tl, "__name__", "lat_bucket", "le", "0.1")...):                             2,
		series(append(tl, "__name__", "lat_bucket", "le", "+Inf")...):                            5,
		series(append(tl, "__name__", "lat_sum")...):                                             1.5,
		series(append(tl, "__name__", "lat_count")...):                                           5,
		series(append(tl, "__name__", "up")...):                                                  1,
		series(append(tl, "__name__", "scrape_samples_scraped")...):                              7,
		series(append(tl, "__name__", "scrape_samples_post_metric_relabeling")...):               7,
	}
	dur := series(append(tl, "__name__", "scrape_duration_seconds")...)
	if d, ok := got[dur]; !ok || d <= 0 || d > 10 {
		t.Errorf("scrape_duration_seconds = %v, %v", d, ok)
	}
	delete(got, dur)
	checkSamples(t, got, want)
}

func checkSamples(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %v", k, v)
		}
	}
}

func TestScrapeOpenMetrics(t *testing.T) {
	body := "# TYPE jobs counter\njobs_total{kind=\"a\"} 4 1700000000.5\n# TYPE q summary\nq{quantile=\"0.5\"} 0.2\nq_sum 3\nq_count 9\n# EOF\n"
	ep := newEndpoint(t, "application/openmetrics-text; version=1.0.0; charset=utf-8", body)
	c := newCollector()
	run(t, newScraper(t, scrape.Config{Job: "om", Targets: []string{ep.addr()}}), c)
	got := c.firstGood(t)
	tl := []string{"instance", ep.addr(), "job", "om"}
	for k, v := range map[string]float64{
		series(append(tl, "__name__", "jobs_total", "kind", "a")...): 4,
		series(append(tl, "__name__", "q", "quantile", "0.5")...):    0.2,
		series(append(tl, "__name__", "q_sum")...):                   3,
		series(append(tl, "__name__", "q_count")...):                 9,
		series(append(tl, "__name__", "up")...):                      1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestTargetRelabeling(t *testing.T) {
	ep := newEndpoint(t, "text/plain", "m 1\n")
	other := newEndpoint(t, "text/plain", "m 2\n")
	c := newCollector()
	cfg := scrape.Config{
		Targets: []string{"alias:1", other.addr()},
		RelabelConfigs: []*relabel.Config{
			{Action: relabel.Replace, SourceLabels: []model.LabelName{"__address__"}, Regex: relabel.MustNewRegexp("alias:1"),
				TargetLabel: "__address__", Replacement: ep.addr()},
			{Action: relabel.Drop, SourceLabels: []model.LabelName{"__address__"}, Regex: relabel.MustNewRegexp(regexpQuote(other.addr()))},
			{Action: relabel.Replace, TargetLabel: "env", Replacement: "prod", Regex: relabel.MustNewRegexp("(.*)")},
		},
	}
	run(t, newScraper(t, cfg), c)
	recs := c.waitRecords(t, 3)
	for _, r := range recs {
		if r.Key != "app/"+ep.addr() {
			t.Fatalf("record of key %q: dropped target scraped", r.Key)
		}
	}
	got := decode(t, recs[0])
	if v, ok := got[series("__name__", "m", "env", "prod", "instance", ep.addr(), "job", "app")]; !ok || v != 1 {
		t.Errorf("relabeled sample missing: %v", got)
	}
	if other.hits.Load() != 0 {
		t.Errorf("dropped target was scraped %d times", other.hits.Load())
	}
}

func TestMetricRelabeling(t *testing.T) {
	ep := newEndpoint(t, "text/plain", "keep_me{a=\"x\"} 1\ndrop_me 2\nrename_me{src=\"v\"} 3\n")
	c := newCollector()
	cfg := scrape.Config{
		Targets: []string{ep.addr()},
		MetricRelabelConfigs: []*relabel.Config{
			{Action: relabel.Drop, SourceLabels: []model.LabelName{"__name__"}, Regex: relabel.MustNewRegexp("drop_.*"), Separator: ";"},
			{Action: relabel.Replace, SourceLabels: []model.LabelName{"src"}, Regex: relabel.MustNewRegexp("(.+)"),
				TargetLabel: "dst", Replacement: "got_$1", Separator: ";"},
			{Action: relabel.LabelDrop, Regex: relabel.MustNewRegexp("src"), Separator: ";", Replacement: "$1"},
		},
	}
	run(t, newScraper(t, cfg), c)
	got := c.firstGood(t)
	tl := []string{"instance", ep.addr(), "job", "app"}
	want := map[string]float64{
		series(append(tl, "__name__", "keep_me", "a", "x")...):                     1,
		series(append(tl, "__name__", "rename_me", "dst", "got_v")...):             3,
		series(append(tl, "__name__", "up")...):                                    1,
		series(append(tl, "__name__", "scrape_samples_scraped")...):                3,
		series(append(tl, "__name__", "scrape_samples_post_metric_relabeling")...): 2,
	}
	delete(got, series(append(tl, "__name__", "scrape_duration_seconds")...))
	checkSamples(t, got, want)

	// keep: only what matches survives.
	c2 := newCollector()
	cfg.MetricRelabelConfigs = []*relabel.Config{
		{Action: relabel.Keep, SourceLabels: []model.LabelName{"__name__"}, Regex: relabel.MustNewRegexp("keep_me"), Separator: ";"},
	}
	run(t, newScraper(t, cfg), c2)
	got = c2.firstGood(t)
	if _, ok := got[series(append(tl, "__name__", "keep_me", "a", "x")...)]; !ok || len(got) != 5 {
		t.Errorf("keep: got %v", got)
	}
}

func TestHonorLabels(t *testing.T) {
	ep := newEndpoint(t, "text/plain", "m{job=\"theirs\",instance=\"i\",exported_job=\"e\"} 1\n")
	for _, honor := range []bool{false, true} {
		c := newCollector()
		stop := run(t, newScraper(t, scrape.Config{Targets: []string{ep.addr()}, HonorLabels: honor}), c)
		got := c.firstGood(t)
		stop()
		want := series("__name__", "m", "job", "app", "instance", ep.addr(),
			"exported_job", "e", "exported_exported_job", "theirs", "exported_instance", "i")
		if honor {
			want = series("__name__", "m", "job", "theirs", "instance", "i", "exported_job", "e")
		}
		if got[want] != 1 {
			t.Errorf("honor_labels %v: want %s in %v", honor, want, got)
		}
	}
}

func TestUpZero(t *testing.T) {
	t.Run("server down", func(t *testing.T) {
		ep := newEndpoint(t, "text/plain", "m 1\n")
		addr := ep.addr()
		ep.srv.Close()
		c := newCollector()
		run(t, newScraper(t, scrape.Config{Targets: []string{addr}}), c)
		got := decode(t, c.waitRecords(t, 1)[0])
		tl := []string{"instance", addr, "job", "app"}
		if v, ok := got[series(append(tl, "__name__", "up")...)]; !ok || v != 0 {
			t.Errorf("up = %v, %v", v, ok)
		}
		if _, ok := got[series(append(tl, "__name__", "scrape_duration_seconds")...)]; !ok || len(got) != 4 {
			t.Errorf("want the 4 report series, got %v", got)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		ep := newEndpoint(t, "text/plain", "m 1\n")
		ep.mu.Lock()
		ep.delay = time.Second
		ep.mu.Unlock()
		c := newCollector()
		run(t, newScraper(t, scrape.Config{Targets: []string{ep.addr()}, Interval: 200 * time.Millisecond, Timeout: 50 * time.Millisecond}), c)
		got := decode(t, c.waitRecords(t, 1)[0])
		if v := got[series("__name__", "up", "instance", ep.addr(), "job", "app")]; v != 0 || len(got) != 4 {
			t.Errorf("up = %v; got %v", v, got)
		}
	})
}

func TestStaleSeries(t *testing.T) {
	ep := newEndpoint(t, "text/plain", "a 1\nb 2\n")
	c := newCollector()
	run(t, newScraper(t, scrape.Config{Targets: []string{ep.addr()}}), c)
	c.waitRecords(t, 1)
	ep.set("a 1\n")
	b := series("__name__", "b", "instance", ep.addr(), "job", "app")
	_, got := c.waitFor(t, func(_ source.Record, s map[string]float64) bool { _, ok := s[b]; return !ok || isStale(s[b]) })
	if !isStale(got[b]) {
		t.Fatalf("b vanished without a staleness marker: %v", got)
	}
	// The marker is sent once; the series is then forgotten.
	_, got = c.waitFor(t, func(_ source.Record, s map[string]float64) bool { _, ok := s[b]; return !ok })
	if got[series("__name__", "a", "instance", ep.addr(), "job", "app")] != 1 {
		t.Errorf("a missing: %v", got)
	}

	// A failed scrape marks everything of the previous one stale.
	ep.srv.Close()
	a := series("__name__", "a", "instance", ep.addr(), "job", "app")
	_, got = c.waitFor(t, func(_ source.Record, s map[string]float64) bool { _, ok := s[a]; return isStale(s[a]) || !ok })
	if !isStale(got[a]) || got[series("__name__", "up", "instance", ep.addr(), "job", "app")] != 0 {
		t.Errorf("failed scrape: want a stale and up 0, got %v", got)
	}
}

func TestFileSD(t *testing.T) {
	ep1 := newEndpoint(t, "text/plain", "m 1\n")
	ep2 := newEndpoint(t, "text/plain", "m 2\n")
	sd := filepath.Join(t.TempDir(), "targets.json")
	write := func(body string) {
		tmp := sd + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, sd); err != nil {
			t.Fatal(err)
		}
	}
	write(`[{"targets": ["` + ep1.addr() + `"], "labels": {"zone": "a"}}]`)
	c := newCollector()
	run(t, newScraper(t, scrape.Config{FileSD: []string{sd}}), c)
	_, got := c.waitFor(t, func(r source.Record, _ map[string]float64) bool { return r.Key == "app/"+ep1.addr() })
	if got[series("__name__", "m", "instance", ep1.addr(), "job", "app", "zone", "a")] != 1 {
		t.Fatalf("file_sd labels: %v", got)
	}

	// Add ep2 as YAML-ish JSON, drop ep1: ep1's series all go stale.
	time.Sleep(10 * time.Millisecond) // a distinct mtime on coarse clocks
	write(`[{"targets": ["` + ep2.addr() + `"]}]`)
	_, got = c.waitFor(t, func(r source.Record, _ map[string]float64) bool { return r.Key == "app/"+ep2.addr() })
	if got[series("__name__", "m", "instance", ep2.addr(), "job", "app")] != 2 {
		t.Fatalf("added target: %v", got)
	}
	_, got = c.waitFor(t, func(r source.Record, s map[string]float64) bool {
		return r.Key == "app/"+ep1.addr() && isStale(s[series("__name__", "up", "instance", ep1.addr(), "job", "app", "zone", "a")])
	})
	for k, v := range got {
		if !isStale(v) {
			t.Errorf("removed target: %s = %v, want stale", k, v)
		}
	}
	if len(got) != 5 {
		t.Errorf("removed target: want m and 4 report series stale, got %v", got)
	}
}

func regexpQuote(s string) string { return regexp.QuoteMeta(s) }
