package component

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is exponential back-off with full jitter. The zero value uses
// the defaults: 100ms initial, 30s max.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// Delay returns how long to wait before retry number attempt (0-based):
// a random duration up to min(Max, Initial·2^attempt), and at least a
// tenth of that so retries never spin.
func (b Backoff) Delay(attempt int) time.Duration {
	initial, maxd := b.Initial, b.Max
	if initial <= 0 {
		initial = 100 * time.Millisecond
	}
	if maxd <= 0 {
		maxd = 30 * time.Second
	}
	d := maxd
	if attempt < 30 {
		if e := initial << attempt; e > 0 && e < maxd {
			d = e
		}
	}
	return d/10 + rand.N(d-d/10+1)
}

// Sleep waits for d or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
