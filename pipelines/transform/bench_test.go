package transform

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/sluicehq/sluice/pipelines/event"
)

// benchBatch returns n log events with a few fields, a quarter of them
// at level debug.
func benchBatch(b testing.TB, n int) []*event.Event {
	levels := []string{"debug", "info", "warn", "error"}
	events := make([]*event.Event, n)
	for i := range events {
		events[i] = logEvent(b, fmt.Sprintf(
			`{"message":"GET /api/v1/items/%d 200","level":%q,"service":"api","http":{"method":"GET","status":%d}}`,
			i, levels[i%4], 200+i%4*100), "host=web-1", "source=app")
	}
	return events
}

// runBatch runs p over a copy of events per iteration (filters shrink
// the slice they are given), reporting ns and allocations per event, and
// the CPU time of the benchmark's thread per event (on Linux), which
// other processes on a busy machine do not inflate as they do ns/event.
func runBatch(b *testing.B, p interface {
	Process([]*event.Event) []*event.Event
}, events []*event.Event) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]*event.Event, len(events))
	b.ReportAllocs()
	cpu0, cpuOK := threadCPU()
	b.ResetTimer()
	for b.Loop() {
		copy(buf, events)
		p.Process(buf)
	}
	n := float64(b.N * len(events))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	if cpu1, ok := threadCPU(); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/n, "cpu-ns/event")
	}
}

func BenchmarkFilter(b *testing.B) {
	for _, cond := range []string{
		`level != "debug"`,
		`http.status >= 400 && meta.host startsWith "web"`,
		`kind == "log" && message contains "/api/"`,
	} {
		b.Run(cond, func(b *testing.B) {
			f, err := NewFilter(FilterConfig{Condition: cond}, settings())
			if err != nil {
				b.Fatal(err)
			}
			runBatch(b, f, benchBatch(b, 1000))
		})
	}
}

func BenchmarkRoute(b *testing.B) {
	routes := []Route{
		{Condition: `level == "error"`, To: []string{"alerts", "archive"}},
		{Condition: `http.status >= 400`, To: []string{"archive", "errors"}},
		{Condition: `service == "api"`, To: []string{"archive"}},
	}
	for _, mode := range []string{RouteFirst, RouteAll} {
		b.Run(mode, func(b *testing.B) {
			r, err := NewRoute(RouteConfig{Routes: routes, Mode: mode}, settings())
			if err != nil {
				b.Fatal(err)
			}
			runBatch(b, r, benchBatch(b, 1000))
		})
	}
}

func BenchmarkThrottle(b *testing.B) {
	th, err := NewThrottle(ThrottleConfig{Limit: 1 << 30, Key: "{{ meta.host }}-{{ service }}"}, settings())
	if err != nil {
		b.Fatal(err)
	}
	runBatch(b, th, benchBatch(b, 1000))
}

func BenchmarkSample(b *testing.B) {
	s, err := NewSample(SampleConfig{Rate: 10, Key: "message", Exclude: `level == "error"`}, settings())
	if err != nil {
		b.Fatal(err)
	}
	runBatch(b, s, benchBatch(b, 1000))
}
