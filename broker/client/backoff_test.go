package client

import (
	"context"
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	b := backoff{min: 50 * time.Millisecond, max: 5 * time.Second}
	for attempt := range 40 {
		step := b.min << min(attempt, 20)
		step = min(step, b.max)
		for range 200 {
			d := b.delay(attempt)
			if d < step/2 || d > step {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", attempt, d, step/2, step)
			}
		}
	}
	if d := b.delay(1000); d > b.max || d < b.max/2 {
		t.Fatalf("delay(1000) = %v, want within [%v, %v]", d, b.max/2, b.max)
	}
}

func TestBackoffJitters(t *testing.T) {
	b := backoff{min: time.Second, max: time.Minute}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[b.delay(3)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 delays took %d values: no jitter", len(seen))
	}
}

func TestBackoffSleepStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if (backoff{min: time.Hour, max: time.Hour}).sleep(ctx, 0) {
		t.Fatal("sleep on a cancelled context reported a full wait")
	}
	if !(backoff{min: time.Millisecond, max: time.Millisecond}).sleep(context.Background(), 3) {
		t.Fatal("a 1ms sleep did not complete")
	}
}
