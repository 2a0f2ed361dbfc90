package file

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// t0 is the tests' start of time: 2026-11-28 10:15:00 UTC.
var t0 = time.Date(2026, 11, 28, 10, 15, 0, 0, time.UTC)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func testSettings() component.Settings {
	return component.Settings{Name: "out", Logger: slog.New(slog.DiscardHandler), Metrics: metrics.NewSet()}
}

// newTestSink returns a sink on clock, without the janitor goroutine
// (tests call tick), closed at the end of the test.
func newTestSink(t testing.TB, cfg Config, clock *fakeClock) *Sink {
	t.Helper()
	s, err := newSink(cfg, testSettings(), clock.Now, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func logAt(msg string, at time.Time, meta map[string]string) *event.Event {
	return event.NewLog(msg, at, meta)
}

func mustWrite(t testing.TB, s *Sink, events ...*event.Event) {
	t.Helper()
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func readString(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func boolPtr(b bool) *bool { return &b }
