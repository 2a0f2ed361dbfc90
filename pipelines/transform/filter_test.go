package transform

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pipelines/event"
)

// batch returns the events every expression test runs on.
func batch(t testing.TB) []*event.Event {
	return []*event.Event{
		logEvent(t, `{"message":"a","level":"debug","http":{"status":200}}`, "host=h1"),
		logEvent(t, `{"message":"b","level":"error","http":{"status":503},"user-agent":"curl"}`, "host=h2"),
		logEvent(t, `{"message":"c","level":"info","status":"oops"}`),
		metricEvent("host=h1"),
	}
}

// messages returns a short form of events: their message or "metric",
// with their routes.
func messages(events []*event.Event) string {
	var parts []string
	for _, e := range events {
		s := e.Message()
		if e.Kind == event.KindMetric {
			s = "metric"
		}
		if e.Routes != nil {
			s += fmt.Sprint(e.Routes)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name     string
		cfg      FilterConfig
		want     string
		dropped  uint64
		failures uint64
	}{
		{"field", FilterConfig{Condition: `level != "debug"`}, "b c metric", 1, 0},
		{"drop_if", FilterConfig{DropIf: `level == "debug"`}, "b c metric", 1, 0},
		{"nested field", FilterConfig{Condition: `(http?.status ?? 0) >= 500`}, "b", 3, 0},
		// nil >= 500 is a run-time error in expr: c and the metric.
		{"nested field absent", FilterConfig{Condition: `http?.status >= 500`}, "b", 3, 2},
		{"nested path", FilterConfig{Condition: `http.status == 503 || http["status"] == 200`}, "a b", 2, 0},
		{"nested path through a non-map is nil", FilterConfig{Condition: `status.x == nil && http.status.x == nil`}, "a b c metric", 0, 0},
		{"let variable", FilterConfig{Condition: `let h = http; h?.status == 503`}, "b", 3, 0},
		{"$env and a path", FilterConfig{Condition: `$env.level == "info" && http.status == nil`}, "c", 3, 0},
		{"predicate", FilterConfig{Condition: `any(["x", "error"], # == level)`}, "b", 3, 0},
		{"kind", FilterConfig{DropIf: `kind == "metric"`}, "a b c", 1, 0},
		{"meta", FilterConfig{Condition: `meta.host == "h1"`}, "a metric", 2, 0},
		{"message", FilterConfig{Condition: `message in ["a", "c"] || message == ""`}, "a c metric", 1, 0},
		{"timestamp", FilterConfig{Condition: `timestamp.Year() == 2026 && timestamp > date("2026-01-01")`}, "a b c metric", 0, 0},
		{"fields map", FilterConfig{Condition: `fields?.["user-agent"] == "curl"`}, "b", 3, 0},
		{"$env", FilterConfig{Condition: `$env["user-agent"] == "curl" || $env.level == "info"`}, "b c", 2, 0},
		{"absent field is nil", FilterConfig{Condition: `level == nil`}, "metric", 3, 0},
		// status is "oops" in c: comparing it with a number fails, and
		// the event is treated as not matching.
		{"run-time error drops with condition", FilterConfig{Condition: `status == nil || status > 100`}, "a b metric", 1, 1},
		{"run-time error keeps with drop_if", FilterConfig{DropIf: `status != nil && status > 100`}, "a b c metric", 0, 1},
		// expr takes nil as false, a string is an error.
		{"not a bool", FilterConfig{Condition: `level`}, "", 4, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := settings()
			f, err := NewFilter(tt.cfg, set)
			if err != nil {
				t.Fatal(err)
			}
			if got := messages(f.Process(batch(t))); got != tt.want {
				t.Errorf("kept %q, want %q", got, tt.want)
			}
			if got := counter(set, `sluice_collector_processor_dropped_total{processor="logs/0-test",reason="filtered"}`); got != tt.dropped {
				t.Errorf("dropped %d, want %d", got, tt.dropped)
			}
			if got := counter(set, `sluice_collector_processor_errors_total{processor="logs/0-test"}`); got != tt.failures {
				t.Errorf("errors %d, want %d", got, tt.failures)
			}
		})
	}
}

// TestFilterEnvReuse checks that a value of one event does not show
// through in the next, which lacks it: the environment map is reused.
func TestFilterEnvReuse(t *testing.T) {
	for _, cond := range []string{`level == nil`, `$env.level == nil`, `a.b == nil`, `meta.host == ""`, `meta["host"] == "" && kind == "log"`} {
		f, err := NewFilter(FilterConfig{Condition: cond}, settings())
		if err != nil {
			t.Fatal(err)
		}
		in := []*event.Event{logEvent(t, `{"message":"a","level":"x","a":{"b":1}}`, "host=h"), logEvent(t, `{"message":"b"}`)}
		if got := messages(f.Process(in)); got != "b" {
			t.Errorf("%s: kept %q, want %q", cond, got, "b")
		}
	}
}

func TestRoute(t *testing.T) {
	rules := []Route{
		{Condition: `level == "error"`, To: []string{"alerts", "archive"}},
		{Condition: `(http?.status ?? 0) >= 200`, To: []string{"archive", "web"}},
		{Condition: `kind == "metric"`, To: []string{"vm"}},
	}
	tests := []struct {
		name     string
		cfg      RouteConfig
		want     string
		failures uint64
	}{
		{"first", RouteConfig{Routes: rules}, "a[archive web] b[alerts archive] c metric[vm]", 0},
		{"first with default", RouteConfig{Routes: rules, Default: []string{"other"}, Mode: "first"},
			"a[archive web] b[alerts archive] c[other] metric[vm]", 0},
		{"all", RouteConfig{Routes: rules, Mode: "all"}, "a[archive web] b[alerts archive web] c metric[vm]", 0},
		{"all with default", RouteConfig{Routes: rules, Mode: "all", Default: []string{"other"}},
			"a[archive web] b[alerts archive web] c[other] metric[vm]", 0},
		{"run-time error matches nothing", RouteConfig{Routes: []Route{
			{Condition: `status != nil && status > 1`, To: []string{"x"}},
			{Condition: `true`, To: []string{"y"}},
		}}, "a[y] b[y] c[y] metric[y]", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := settings()
			r, err := NewRoute(tt.cfg, set)
			if err != nil {
				t.Fatal(err)
			}
			// Twice: the second pass hits mode all's cache.
			for range 2 {
				if got := messages(r.Process(batch(t))); got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			}
			if got := counter(set, `sluice_collector_processor_errors_total{processor="logs/0-test"}`); got != 2*tt.failures {
				t.Errorf("errors %d, want %d", got, 2*tt.failures)
			}
		})
	}
}

// TestRouteKeepsEarlierRoutes checks that an event no route takes keeps
// the Routes an earlier processor gave it when there is no default, and
// that appending to an event's Routes does not change other events'.
func TestRouteKeepsEarlierRoutes(t *testing.T) {
	r, err := NewRoute(RouteConfig{Routes: []Route{{Condition: `level == "error"`, To: []string{"a"}}}}, settings())
	if err != nil {
		t.Fatal(err)
	}
	in := []*event.Event{logEvent(t, `{"message":"x","level":"info"}`), logEvent(t, `{"message":"y","level":"error"}`),
		logEvent(t, `{"message":"z","level":"error"}`)}
	in[0].Routes = []string{"earlier"}
	out := r.Process(in)
	out[1].Routes = append(out[1].Routes, "more")
	if got, want := messages(out), "x[earlier] y[a more] z[a]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRouteSinkRefs(t *testing.T) {
	cfg := RouteConfig{Routes: []Route{{Condition: "true", To: []string{"a", "b"}}, {Condition: "false", To: []string{"c"}}}, Default: []string{"d"}}
	got := fmt.Sprint(cfg.SinkRefs())
	if want := "map[default:[d] routes[0].to:[a b] routes[1].to:[c]]"; got != want {
		t.Errorf("SinkRefs() = %s, want %s", got, want)
	}
	cfg.Default = nil
	if got, want := fmt.Sprint(cfg.SinkRefs()), "map[routes[0].to:[a b] routes[1].to:[c]]"; got != want {
		t.Errorf("SinkRefs() = %s, want %s", got, want)
	}
}

// TestExprErrorLog checks that run-time errors are all counted but
// logged once per interval, with the key at fault.
func TestExprErrorLog(t *testing.T) {
	var buf strings.Builder
	set := settings()
	set.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	f, err := NewFilter(FilterConfig{DropIf: `status > 1`}, set)
	if err != nil {
		t.Fatal(err)
	}
	in := []*event.Event{logEvent(t, `{"message":"a","status":"x"}`), logEvent(t, `{"message":"b","status":"y"}`)}
	if got := messages(f.Process(in)); got != "a b" {
		t.Errorf("kept %q, want %q", got, "a b")
	}
	want := `level=WARN msg="expression failed; the event is treated as not matching" processor=logs/0-test key=drop_if ` +
		`error="invalid operation: string > int (at column 8)" next_log_in=1m0s` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("log\n%s\nwant\n%s", got, want)
	}
	if got := counter(set, `sluice_collector_processor_errors_total{processor="logs/0-test"}`); got != 2 {
		t.Errorf("errors %d, want 2", got)
	}
}
