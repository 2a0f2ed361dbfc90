package scrape

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// BenchmarkScrape measures one target of 1,000 series: HTTP fetch from an
// httptest server, parse, metric relabeling, staleness tracking and
// WriteRequest encoding, per sample.
func BenchmarkScrape(b *testing.B) {
	const nSeries = 1000
	var body strings.Builder
	body.WriteString("# TYPE http_requests_total counter\n")
	for i := range nSeries {
		fmt.Fprintf(&body, "http_requests_total{code=\"%d\",handler=\"/api/v1/endpoint%d\",method=\"get\"} %d\n", 200+i%5, i, i*7)
	}
	payload := body.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, payload)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	s, err := New(Config{
		Job: "bench", Topic: "metrics", Targets: []string{u.Host}, Interval: time.Second,
		MetricRelabelConfigs: []*relabel.Config{
			{Action: relabel.Drop, SourceLabels: []model.LabelName{"__name__"}, Regex: relabel.MustNewRegexp("go_.*"), Separator: ";"},
			{Action: relabel.Replace, SourceLabels: []model.LabelName{"code"}, Regex: relabel.MustNewRegexp("(5..)"),
				TargetLabel: "error", Replacement: "$1", Separator: ";"},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.client.CloseIdleConnections()
	ts := s.targets()
	if len(ts) != 1 {
		b.Fatalf("%d targets", len(ts))
	}
	var l *loop
	for _, t := range ts {
		l = newLoop(s, t)
	}
	ctx := context.Background()
	var ms0, ms1 runtime.MemStats
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for b.Loop() {
		rec := l.scrapeOnce(ctx, time.Now())
		if len(rec.Body) == 0 {
			b.Fatal("empty record")
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	samples := float64(b.N) * nSeries
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/samples, "ns/sample")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/samples, "allocs/sample")
}
