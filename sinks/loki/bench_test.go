package loki

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// BenchmarkWrite pushes batches of 1000 log events of 10 hosts to a
// server that reads and discards the body; bytes are the log lines.
func BenchmarkWrite(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"text", Config{}},
		{"json", Config{Encoding: "json"}},
		{"text-structured-metadata", Config{StructuredMetadata: map[string]string{"level": "{{ level }}"}}},
		{"text-gzip", Config{Batching: httpclient.Batching{Compression: "gzip"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNoContent)
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
					Fields: map[string]any{"message": fmt.Sprintf("GET /api/v1/items/%d 200 %s", i, strings.Repeat("x", 60)), "level": "info"},
					Meta:   map[string]string{"host": fmt.Sprintf("web-%d", i%10), "source": "nginx", "file": "/var/log/nginx/access.log"}}
				lineBytes += len(events[i].Message())
			}
			if err := s.Write(context.Background(), events); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(lineBytes))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.Write(context.Background(), events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
		})
	}
}
