package remotewrite

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// BenchmarkDecodeAndSplit: a request of 1000 series from 10 targets,
// as one Prometheus shard sends them.
func BenchmarkDecodeAndSplit(b *testing.B) {
	wr := &prompb.WriteRequest{}
	for i := range 1000 {
		wr.Timeseries = append(wr.Timeseries, series("job", fmt.Sprintf("host%d:9100", i%10), fmt.Sprintf("metric_%d", i), float64(i)))
	}
	body := encode(b, wr)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		got, err := DecodeWriteRequest(body, DefaultMaxDecodedBytes)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := splitByTarget(got, "m", nil, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}
