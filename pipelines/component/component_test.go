package component

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	for attempt, ceiling := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, time.Second, time.Second} {
		for range 200 {
			d := b.Delay(attempt)
			if d < ceiling/10 || d > ceiling {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, ceiling/10, ceiling)
			}
		}
	}
	if d := (Backoff{}).Delay(1000); d > 30*time.Second || d < 3*time.Second {
		t.Fatalf("default back-off at a huge attempt: %v", d)
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep did not report the wait passed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep ignored a cancelled context")
	}
}

func TestFieldErrors(t *testing.T) {
	err := errors.Join(Errorf("url", "bad %q", "x"), errors.New("plain"),
		fmt.Errorf("wrapped: %w", Errorf("tls.ca_file", "missing")))
	got := FieldErrors(err)
	want := []FieldError{{"url", `bad "x"`}, {"", "plain"}, {"tls.ca_file", "missing"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if FieldErrors(nil) != nil {
		t.Fatal("nil error gave field errors")
	}
	if s := Errorf("a", "b").Error(); s != "a: b" {
		t.Fatalf("Error() = %q", s)
	}
}
