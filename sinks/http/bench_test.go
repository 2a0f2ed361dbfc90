package http

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// BenchmarkWrite sends batches of 1000 log events to a server that reads
// and discards the body; bytes are the log lines.
func BenchmarkWrite(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"ndjson", Config{}},
		{"json_array", Config{Encoding: "json_array"}},
		{"ndjson-gzip", Config{Batching: httpclient.Batching{Compression: "gzip"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			defer srv.Close()
			cfg := bc.cfg
			cfg.URL = srv.URL
			s, err := New(cfg, component.Settings{Name: "bench", Logger: slog.New(slog.DiscardHandler), Metrics: metrics.NewSet()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			events := make([]*event.Event, 1000)
			lineBytes := 0
			for i := range events {
				events[i] = &event.Event{Kind: event.KindLog, Time: time.Unix(1700000000, int64(i)),
					Fields: map[string]any{"message": fmt.Sprintf("GET /api/v1/items/%d 200 %s", i, strings.Repeat("x", 60))},
					Meta:   map[string]string{"host": fmt.Sprintf("web-%d", i%10)}}
				lineBytes += len(events[i].Message())
			}
			b.SetBytes(int64(lineBytes))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(context.Background(), events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
		})
	}
}
