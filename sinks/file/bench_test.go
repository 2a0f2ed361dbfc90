package file

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/pipelines/event"
)

// BenchmarkWrite writes batches of 1,000 parsed log events to one file,
// as the collector's logs path does, with and without fsync per batch.
func BenchmarkWrite(b *testing.B) {
	for _, fsync := range []bool{true, false} {
		for _, enc := range []string{"json", "text"} {
			b.Run(fmt.Sprintf("%s/fsync=%v", enc, fsync), func(b *testing.B) {
				clock := &fakeClock{now: t0}
				s := newTestSink(b, Config{Path: filepath.Join(b.TempDir(), "{{ meta.host }}-%Y-%m-%d.log"), Encoding: enc, Fsync: &fsync}, clock)
				events := make([]*event.Event, 1000)
				size := 0
				for i := range events {
					e := event.NewLog(fmt.Sprintf("GET /api/v1/orders/%d 200 12ms", i), t0, map[string]string{"host": "h1", "file": "/var/log/app.log"})
					e.Fields.Set("level", "info")
					e.Fields.Set("service", "checkout")
					e.Fields.Set("latency_ms", 12.5)
					events[i] = e
					size += len(event.AppendJSON(nil, e)) + 1
				}
				b.SetBytes(int64(size))
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
}
