package spool

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// BenchmarkAppend appends 1 KiB records, each fsynced before Append
// returns, from 1 and 8 appenders sharing fsyncs.
func BenchmarkAppend(b *testing.B) {
	for _, appenders := range []int{1, 8} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			s, err := Open(Config{Dir: b.TempDir(), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			rec := make([]byte, 1024)
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / appenders
			for w := range appenders {
				n := per
				if w == 0 {
					n += b.N % appenders
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						if err := s.Append(context.Background(), rec); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
