package transform

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

// numbered returns n log events whose message is their index and whose
// user field takes the values u0..u(users-1) in turn.
func numbered(t testing.TB, n, users int) []*event.Event {
	events := make([]*event.Event, n)
	for i := range events {
		events[i] = logEvent(t, fmt.Sprintf(`{"message":"%d","user":"u%d","level":"info"}`, i, i%users), fmt.Sprintf("host=h%d", i%2))
	}
	return events
}

func TestSample(t *testing.T) {
	tests := []struct {
		name    string
		cfg     SampleConfig
		random  []uint64 // what the random source returns, in turn
		in      []*event.Event
		want    string
		dropped uint64
	}{
		{"rate 1 keeps all", SampleConfig{Rate: 1}, nil, numbered(t, 3, 1), "0 1 2", 0},
		{"random", SampleConfig{Rate: 3}, []uint64{0, 1, 2, 0, 2}, numbered(t, 5, 1), "0 3", 3},
		// Of u0, u1 and u2, only keyHash("u2")%3 == 0: see TestKeyHash.
		{"by key", SampleConfig{Rate: 3, Key: "user"}, nil, numbered(t, 6, 3), "2 5", 4},
		{"by key, missing key is random", SampleConfig{Rate: 3, Key: "nope"}, []uint64{1, 0, 1}, numbered(t, 3, 2), "1", 2},
		{"exclude", SampleConfig{Rate: 1000, Exclude: `message in ["1", "3"]`}, []uint64{1, 0, 1}, numbered(t, 5, 1), "1 2 3", 2},
		{"metric events are sampled too", SampleConfig{Rate: 2}, []uint64{1, 0}, []*event.Event{logEvent(t, `{"message":"0"}`), metricEvent()}, "metric", 1},
		{"exclude that fails does not protect", SampleConfig{Rate: 2, Exclude: `level > 1`}, []uint64{1, 0}, numbered(t, 2, 1), "1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := settings()
			s, err := NewSample(tt.cfg, set)
			if err != nil {
				t.Fatal(err)
			}
			s.random = func(n uint64) uint64 {
				if n != uint64(tt.cfg.Rate) {
					t.Errorf("random(%d), want random(%d)", n, tt.cfg.Rate)
				}
				if len(tt.random) == 0 {
					t.Fatal("random called more often than the test expects")
				}
				r := tt.random[0]
				tt.random = tt.random[1:]
				return r
			}
			if got := messages(s.Process(tt.in)); got != tt.want {
				t.Errorf("kept %q, want %q", got, tt.want)
			}
			if len(tt.random) > 0 {
				t.Errorf("random values left unused: %v", tt.random)
			}
			if got := counter(set, `sluice_collector_processor_dropped_total{processor="logs/0-test",reason="sampled"}`); got != tt.dropped {
				t.Errorf("dropped %d, want %d", got, tt.dropped)
			}
		})
	}
}

// TestKeyHash pins the hash: collectors of different versions sharing a
// group must keep the same keys.
func TestKeyHash(t *testing.T) {
	for v, want := range map[any]uint64{
		"u0":         0x36c69dda1869ce5f,
		"u1":         0x715fdd7b59a9a19f,
		"u2":         0x56ac9e81c11bad70,
		"":           0xf52a15e9a9b5e89b,
		float64(200): 0xe0eaf9efa5959560,
	} {
		if got := keyHash(v); got != want {
			t.Errorf("keyHash(%v) = %#x, want %#x", v, got, want)
		}
	}
	if keyHash("u0")%3 == 0 || keyHash("u1")%3 == 0 || keyHash("u2")%3 != 0 {
		t.Errorf("TestSample's by-key case needs keyHash(u2)%%3 == 0 only")
	}
}

// TestSampleRatio checks that keys and random sampling keep about 1 in
// rate.
func TestSampleRatio(t *testing.T) {
	for _, key := range []string{"", "user"} {
		s, err := NewSample(SampleConfig{Rate: 10, Key: key}, settings())
		if err != nil {
			t.Fatal(err)
		}
		n := len(s.Process(numbered(t, 20000, 20000)))
		if n < 1800 || n > 2200 {
			t.Errorf("key %q: kept %d of 20000 at rate 10, want about 2000", key, n)
		}
	}
}

// fakeClock is a settable clock for throttle.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

func TestThrottle(t *testing.T) {
	type step struct {
		advance time.Duration
		in      []*event.Event
		want    string
	}
	host := func(h string, n int) []*event.Event {
		events := make([]*event.Event, n)
		for i := range events {
			events[i] = logEvent(t, fmt.Sprintf(`{"message":"%s%d","service":"api"}`, h, i), "host="+h)
		}
		return events
	}
	tests := []struct {
		name      string
		cfg       ThrottleConfig
		steps     []step
		throttled uint64
		overflow  uint64
		keys      int
	}{
		{"one bucket", ThrottleConfig{Limit: 2}, []step{
			{0, host("a", 3), "a0 a1"},
			{500 * time.Millisecond, host("b", 1), ""},
			{500 * time.Millisecond, append(host("a", 2), metricEvent()), "a0 a1"}, // a new window
		}, 3, 0, 0},
		{"per key", ThrottleConfig{Limit: 1, Window: config.Duration(time.Minute), Key: "{{ meta.host }}-{{ service }}"}, []step{
			{0, append(host("a", 2), host("b", 2)...), "a0 b0"},
			{59 * time.Second, host("a", 1), ""},
			{time.Second, host("a", 1), "a0"},
		}, 3, 0, 2},
		{"idle keys forgotten", ThrottleConfig{Limit: 1, Key: "{{ meta.host }}"}, []step{
			{0, host("a", 1), "a0"},
			{time.Second, host("b", 1), "b0"},
			{time.Second, host("b", 1), "b0"}, // sweeps a out
		}, 0, 0, 1},
		{"max_keys overflow bucket", ThrottleConfig{Limit: 1, Key: "{{ meta.host }}", MaxKeys: 2}, []step{
			{0, append(append(host("a", 2), host("b", 2)...), append(host("c", 2), host("d", 1)...)...), "a0 b0 c0"},
			{2 * time.Second, host("d", 2), "d0"}, // a, b idle for 2s: forgotten, d gets a bucket
		}, 3, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := settings()
			th, err := NewThrottle(tt.cfg, set)
			if err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{now: t0}
			th.now = clock.Now
			for i, s := range tt.steps {
				clock.advance(s.advance)
				if got := messages(th.Process(s.in)); got != s.want {
					t.Errorf("step %d: kept %q, want %q", i, got, s.want)
				}
			}
			if got := counter(set, `sluice_collector_processor_dropped_total{processor="logs/0-test",reason="throttled"}`); got != tt.throttled {
				t.Errorf("throttled %d, want %d", got, tt.throttled)
			}
			if got := counter(set, `sluice_collector_processor_dropped_total{processor="logs/0-test",reason="throttle_overflow"}`); got != tt.overflow {
				t.Errorf("overflow %d, want %d", got, tt.overflow)
			}
			if got := th.keys(); got != tt.keys {
				t.Errorf("%d keys tracked, want %d", got, tt.keys)
			}
		})
	}
}
