package parse

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// readTime is the agent's read time of the events of the tests.
var readTime = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// harness is a processor's settings with what the test inspects.
type harness struct {
	set  component.Settings
	logs *bytes.Buffer
}

func newHarness(name string) *harness {
	logs := &bytes.Buffer{}
	return &harness{
		set: component.Settings{
			Name:    name,
			Logger:  slog.New(slog.NewTextHandler(logs, nil)),
			Metrics: metrics.NewSet(),
		},
		logs: logs,
	}
}

// errors returns the processor's error counter.
func (h *harness) errors() uint64 {
	return h.set.Metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_collector_processor_errors_total{processor=%q}`, h.set.Name)).Get()
}

// procCase is one event through a processor.
type procCase struct {
	name string
	in   map[string]any
	// want is the fields after; nil when the event must be dropped.
	want map[string]any
	// failed tells that the event counts as a parse error.
	failed bool
	// time is the event's Time after; zero means readTime.
	time time.Time
}

// runCases passes each case's event alone through a new processor and
// checks the fields, the time, the drop and the error count.
func runCases(t *testing.T, cases []procCase, build func(component.Settings) (component.Processor, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness("p/0-test")
			p, err := build(h.set)
			if err != nil {
				t.Fatal(err)
			}
			e := &event.Event{Kind: event.KindLog, Time: readTime, Fields: event.FieldsOf(tc.in)}
			out := p.Process([]*event.Event{e})
			if tc.want == nil {
				if len(out) != 0 {
					t.Fatalf("event kept: %v", out[0].Fields.Map())
				}
			} else {
				if len(out) != 1 || out[0] != e {
					t.Fatalf("got %d events, want the one", len(out))
				}
				if !equalValues(e.Fields.Map(), tc.want) {
					t.Errorf("fields:\n got %s\nwant %s", show(e.Fields.Map()), show(tc.want))
				}
				want := tc.time
				if want.IsZero() {
					want = readTime
				}
				if !e.Time.Equal(want) {
					t.Errorf("time: got %v, want %v", e.Time, want)
				}
			}
			wantErrs := uint64(0)
			if tc.failed {
				wantErrs = 1
			}
			if got := h.errors(); got != wantErrs {
				t.Errorf("errors counted: got %d, want %d (log: %s)", got, wantErrs, h.logs)
			}
			if tc.failed != strings.Contains(h.logs.String(), "event did not parse") {
				t.Errorf("failure logged: %q", h.logs)
			}
		})
	}
}

// equalValues is reflect.DeepEqual but for times, which are equal when
// they are the same instant.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, func(a, b any) bool { return equalValues(a, b) })
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return reflect.DeepEqual(a, b)
}

// show prints fields with their Go types, keys sorted.
func show(v any) string {
	switch x := v.(type) {
	case map[string]any:
		var b strings.Builder
		b.WriteString("{")
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %s", k, show(x[k]))
		}
		return b.String() + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = show(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%T(%#v)", v, v)
}

func msg(s string) map[string]any { return map[string]any{event.FieldMessage: s} }

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
