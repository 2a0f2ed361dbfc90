package cli

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	for _, v := range []uint64{0, 1, 15, 16, 17, 31, 32, 1000, 123456789, 1 << 62} {
		i := bucketOf(v)
		lo := lowerBound(i)
		if lo > v || (i+1 < len(histogram{}.counts) && lowerBound(i+1) <= v) {
			t.Fatalf("value %d in bucket %d [%d, %d)", v, i, lo, lowerBound(i+1))
		}
		if v >= 16 && float64(v-lo)/float64(v) > 1.0/16 {
			t.Fatalf("value %d: bucket bound %d is more than 1/16 off", v, lo)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}} {
		got := h.quantile(c.q)
		if got > c.want || float64(c.want-got) > float64(c.want)/16 {
			t.Errorf("q%.3f = %v, want within 1/16 below %v", c.q, got, c.want)
		}
	}
	if h.count() != 1000 {
		t.Fatalf("count %d", h.count())
	}
}
