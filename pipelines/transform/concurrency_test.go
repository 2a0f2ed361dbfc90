package transform

import (
	"sync"
	"testing"

	"github.com/sluicehq/sluice/pipelines/event"
)

// TestConcurrentProcess runs processors from several goroutines at once
// (run with -race): each must give every batch the result it gives alone.
func TestConcurrentProcess(t *testing.T) {
	set := settings()
	filter, err := NewFilter(FilterConfig{Condition: `level != "debug" && meta.host != "" && http.status >= 200`}, set)
	if err != nil {
		t.Fatal(err)
	}
	route, err := NewRoute(RouteConfig{Mode: RouteAll, Routes: []Route{
		{Condition: `level == "error"`, To: []string{"a"}},
		{Condition: `http.status >= 400`, To: []string{"b"}},
	}}, set)
	if err != nil {
		t.Fatal(err)
	}
	throttle, err := NewThrottle(ThrottleConfig{Limit: 1 << 30, Key: "{{ meta.host }}"}, set)
	if err != nil {
		t.Fatal(err)
	}
	procs := []interface {
		Process([]*event.Event) []*event.Event
	}{filter, route, throttle}
	var want string
	{
		in := benchBatch(t, 40)
		for _, p := range procs {
			in = p.Process(in)
		}
		want = encode(in)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				in := benchBatch(t, 40)
				for _, p := range procs {
					in = p.Process(in)
				}
				if got := encode(in); got != want {
					t.Errorf("got\n%s\nwant\n%s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
