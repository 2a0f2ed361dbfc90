package http

import (
	"testing"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/httpclient"
	"github.com/sluicehq/sluice/pipelines/httpclient/httpclienttest"
)

// BenchmarkWrite sends batches of 1000 log events to a server that reads
// and discards the body; bytes are the log lines.
func BenchmarkWrite(b *testing.B) {
	events, lineBytes := httpclienttest.BenchEvents(1000)
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"ndjson", Config{}},
		{"json_array", Config{Encoding: "json_array"}},
		{"ndjson-gzip", Config{Batching: httpclient.Batching{Compression: "gzip"}}},
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
