package parse

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// Every processor passes metric events on untouched, keeps the order of
// the batch and drops only what fails under on_error: drop.
func TestProcessBatch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		build    func(component.Settings) (component.Processor, error)
		ok, fail string
	}{
		{"parse_json", func(s component.Settings) (component.Processor, error) {
			return NewJSON(JSONConfig{Common{OnError: "drop"}}, s)
		}, `{"a":"b"}`, `{`},
		{"parse_logfmt", func(s component.Settings) (component.Processor, error) {
			return NewLogfmt(LogfmtConfig{Common{OnError: "drop"}}, s)
		}, `a=b`, `a="`},
		{"parse_regex", func(s component.Settings) (component.Processor, error) {
			return NewRegex(RegexConfig{Common: Common{OnError: "drop"}, Pattern: `^(?P<a>b)$`}, s)
		}, `b`, `c`},
		{"parse_syslog", func(s component.Settings) (component.Processor, error) {
			return NewSyslog(SyslogConfig{Common: Common{OnError: "drop"}}, s)
		}, `<13>a: b`, `b`},
		{"timestamp", func(s component.Settings) (component.Processor, error) {
			return NewTimestamp(TimestampConfig{Field: "message", OnError: "drop"}, s)
		}, `1`, `b`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness("logs/0-" + tc.name)
			p, err := tc.build(h.set)
			if err != nil {
				t.Fatal(err)
			}
			metric := &event.Event{Kind: event.KindMetric, Time: readTime,
				Series: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "__name__", Value: "up"}}, Samples: []prompb.Sample{{Value: 1}}}}}
			in := []*event.Event{
				event.NewLog(tc.fail, readTime, nil), event.NewLog(tc.ok, readTime, nil), metric,
				event.NewLog(tc.fail, readTime, nil), event.NewLog(tc.ok, readTime, nil),
			}
			want := []*event.Event{in[1], in[2], in[4]}
			out := p.Process(in)
			if len(out) != len(want) {
				t.Fatalf("%d events out, want %d", len(out), len(want))
			}
			for i := range want {
				if out[i] != want[i] {
					t.Errorf("event %d: got %+v, want %+v", i, out[i], want[i])
				}
			}
			if metric.Fields.Len() != 0 || !metric.Time.Equal(readTime) || len(metric.Series) != 1 {
				t.Errorf("metric event changed: %+v", metric)
			}
			if got := h.errors(); got != 2 {
				t.Errorf("errors counted: %d, want 2", got)
			}
			// Two failures, one warning saying it dropped.
			logs := h.logs.String()
			if n := strings.Count(logs, "event did not parse; dropped"); n != 1 {
				t.Errorf("%d warnings, want 1:\n%s", n, logs)
			}
			if !strings.Contains(logs, "processor=logs/0-"+tc.name) {
				t.Errorf("warning does not name the processor:\n%s", logs)
			}
		})
	}
}

// A warning at most every 10 s, saying how many failures it did not log.
func TestWarningRateLimit(t *testing.T) {
	h := newHarness("p")
	p, err := NewJSON(JSONConfig{}, h.set)
	if err != nil {
		t.Fatal(err)
	}
	bad := func() []*event.Event { return []*event.Event{event.NewLog("not json", readTime, nil)} }
	for range 3 {
		p.Process(bad())
	}
	if got := strings.Count(h.logs.String(), "level=WARN"); got != 1 {
		t.Fatalf("%d warnings after 3 failures in a row, want 1:\n%s", got, h.logs)
	}
	if !strings.Contains(h.logs.String(), `error="message \"not json\": cannot parse JSON`) || !strings.Contains(h.logs.String(), "not_logged_since_last_warning=0") {
		t.Errorf("first warning: %s", h.logs)
	}
	p.lastWarn = p.lastWarn.Add(-warnEvery) // 10 s later
	h.logs.Reset()
	p.Process(bad())
	if !strings.Contains(h.logs.String(), "not_logged_since_last_warning=2") {
		t.Errorf("warning after 10 s: %q", h.logs)
	}
	if got := h.errors(); got != 4 {
		t.Errorf("errors counted: %d, want 4", got)
	}
}

// The example in an error is bounded.
func TestSyntaxErrorExample(t *testing.T) {
	long := strings.Repeat("x", 1000)
	err := (&syntaxError{field: "message", input: long, err: errNotSyslog}).Error()
	want := `message "` + strings.Repeat("x", exampleLen) + `...": not a syslog line: no <PRI>, no timestamp`
	if err != want {
		t.Errorf("got %s", err)
	}
}
