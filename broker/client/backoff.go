package client

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff computes exponential delays with jitter between min and max.
type backoff struct {
	min, max time.Duration
}

// delay is the wait before retry number attempt (0 for the first retry):
// the exponential step d = min * 2^attempt, capped at max, then jittered
// uniformly into [d/2, d] so that clients that failed together do not retry
// together, while the wait never drops below half the step.
func (b backoff) delay(attempt int) time.Duration {
	d := b.min
	for i := 0; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits for delay(attempt) or until ctx is done, and reports whether
// the full wait elapsed.
func (b backoff) sleep(ctx context.Context, attempt int) bool {
	t := time.NewTimer(b.delay(attempt))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
