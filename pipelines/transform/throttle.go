package transform

import (
	"errors"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

// ThrottleConfig is the throttle processor: it passes at most Limit
// events per Window for each key and drops the others.
type ThrottleConfig struct {
	// Limit is how many events of one key pass per window (required,
	// >= 1).
	Limit int `yaml:"limit"`
	// Window is the length of a key's window. It starts with the first
	// event of the key and restarts with the first event after it ended
	// (the collector's clock, not the events' times). Default 1s.
	Window config.Duration `yaml:"window"`
	// Key is a template ({{ meta.host }}-{{ service }}); events with the
	// same expansion share a limit. Default: all events share one.
	Key string `yaml:"key"`
	// MaxKeys bounds the keys tracked. Keys with no event for two windows
	// are forgotten; while MaxKeys keys are tracked, events of new keys
	// share one more bucket, with the same limit (their drops count with
	// reason throttle_overflow). Default 10000.
	MaxKeys int `yaml:"max_keys"`
}

// Defaults of ThrottleConfig.
const (
	DefaultThrottleWindow  = time.Second
	DefaultThrottleMaxKeys = 10000
)

// Validate checks the limit, window, key and max_keys.
func (c *ThrottleConfig) Validate() error {
	var errs []error
	if c.Limit < 1 {
		errs = append(errs, component.Errorf("limit", "%d: want the number of events per window, >= 1", c.Limit))
	}
	if c.Window < 0 {
		errs = append(errs, component.Errorf("window", "%s is negative: want a duration such as 1s or 1m", c.Window.D()))
	}
	if c.MaxKeys < 0 {
		errs = append(errs, component.Errorf("max_keys", "%d is negative: want the number of keys to track (default %d)", c.MaxKeys, DefaultThrottleMaxKeys))
	}
	if _, err := parseTemplate(c.Key); err != nil {
		errs = append(errs, component.Errorf("key", "%q: %v", c.Key, err))
	}
	return errors.Join(errs...)
}

// Throttle is the throttle processor.
type Throttle struct {
	limit   int
	window  int64 // nanoseconds
	maxKeys int
	key     *template // nil: one bucket

	// now is the clock; tests replace it.
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	single    bucket // all events when key is nil
	overflow  bucket // events of new keys while maxKeys are tracked
	lastSweep int64
	buf       []byte

	dropped, overflowDropped *metrics.Counter
}

// bucket is one key's window: when it started, how many events passed
// in it, and when the key was last seen.
type bucket struct {
	start, last int64
	count       int
}

// NewThrottle returns a throttle processor.
func NewThrottle(cfg ThrottleConfig, set component.Settings) (*Throttle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Throttle{
		limit:           cfg.Limit,
		window:          int64(cfg.Window),
		maxKeys:         cfg.MaxKeys,
		now:             time.Now,
		buckets:         map[string]*bucket{},
		dropped:         droppedCounter(set, reasonThrottled),
		overflowDropped: droppedCounter(set, reasonThrottleOverflow),
	}
	if t.window == 0 {
		t.window = int64(DefaultThrottleWindow)
	}
	if t.maxKeys == 0 {
		t.maxKeys = DefaultThrottleMaxKeys
	}
	if _, ok := mustTemplate(cfg.Key).constant(); !ok {
		t.key = mustTemplate(cfg.Key)
	}
	return t, nil
}

func mustTemplate(s string) *template {
	t, err := parseTemplate(s)
	if err != nil {
		panic(err) // Validate has checked s
	}
	return t
}

// Process returns the events within their key's limit, in order, in
// events' array.
func (t *Throttle) Process(events []*event.Event) []*event.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().UnixNano()
	if now-t.lastSweep >= t.window {
		t.sweepLocked(now)
	}
	out := events[:0]
	var dropped, overflowed int
	for _, e := range events {
		b, overflow := t.bucketLocked(e, now)
		if now-b.start >= t.window {
			b.start, b.count = now, 0
		}
		b.last = now
		switch {
		case b.count < t.limit:
			b.count++
			out = append(out, e)
		case overflow:
			overflowed++
		default:
			dropped++
		}
	}
	t.dropped.Add(dropped)
	t.overflowDropped.Add(overflowed)
	return out
}

// bucketLocked returns the bucket of e's key; overflow is set when it is
// the overflow bucket.
func (t *Throttle) bucketLocked(e *event.Event, now int64) (b *bucket, overflow bool) {
	if t.key == nil {
		return &t.single, false
	}
	t.buf = t.key.append(t.buf[:0], e)
	if b := t.buckets[string(t.buf)]; b != nil {
		return b, false
	}
	if len(t.buckets) >= t.maxKeys {
		return &t.overflow, true
	}
	b = &bucket{start: now}
	t.buckets[string(t.buf)] = b
	return b, false
}

// sweepLocked forgets the keys idle for two windows.
func (t *Throttle) sweepLocked(now int64) {
	t.lastSweep = now
	for k, b := range t.buckets {
		if now-b.last >= 2*t.window {
			delete(t.buckets, k)
		}
	}
}

// keys returns how many keys are tracked.
func (t *Throttle) keys() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buckets)
}
