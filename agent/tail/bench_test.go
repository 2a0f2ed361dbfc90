package tail

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/source"
)

// BenchmarkTail reads b.N lines of 200 bytes (newline included), written
// before the timer starts, spread over 1 or 100 files. One op is one
// line; allocations per op include the record's own body, properties map
// and offset string.
func BenchmarkTail(b *testing.B) {
	for _, files := range []int{1, 100} {
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) {
			dir := b.TempDir()
			line := strings.Repeat("x", 199) + "\n"
			per := (b.N + files - 1) / files
			for i := range files {
				f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%03d.log", i)))
				if err != nil {
					b.Fatal(err)
				}
				w := bufio.NewWriterSize(f, 1<<20)
				for range per {
					w.WriteString(line)
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
			want := int64(per * files)
			var got atomic.Int64
			done := make(chan struct{})
			e := source.EmitterFunc(func(_ context.Context, recs []source.Record, ack func(error)) error {
				if got.Add(int64(len(recs))) == want {
					close(done)
				}
				ack(nil)
				return nil
			})
			tl, err := New(Config{Include: []string{filepath.Join(dir, "*.log")}, Topic: "logs", StateDir: b.TempDir(),
				StartAt: "beginning", ScanInterval: 10 * time.Millisecond, Host: "h", Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			b.ResetTimer()
			go func() { errc <- tl.Run(ctx, e) }()
			<-done
			b.StopTimer()
			b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "lines/s")
			cancel()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		})
	}
}
