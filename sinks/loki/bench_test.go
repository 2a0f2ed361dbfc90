package loki

import (
	"testing"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/httpclient"
	"github.com/sluicehq/sluice/pipelines/httpclient/httpclienttest"
)

// BenchmarkWrite pushes batches of 1000 log events of 10 hosts to a
// server that reads and discards the body; bytes are the log lines.
func BenchmarkWrite(b *testing.B) {
	events, lineBytes := httpclienttest.BenchEvents(1000)
	for _, e := range events {
		e.Fields.Set("level", "info")
		e.Meta["source"], e.Meta["file"] = "nginx", "/var/log/nginx/access.log"
	}
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
			httpclienttest.BenchWrite(b, events, lineBytes, func(url string, set component.Settings) (*Sink, error) {
				cfg := bc.cfg
				cfg.URL = url
				return New(cfg, set)
			})
		})
	}
}
