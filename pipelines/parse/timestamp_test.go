package parse

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/component"
)

func TestTimestamp(t *testing.T) {
	ts := func(s string) map[string]any { return map[string]any{"timestamp": s} }
	at := func(s string) time.Time { return mustTime(t, s) }
	syslogTime := at("2003-10-11T22:14:15.003Z")
	for _, tc := range []struct {
		cfg   TimestampConfig
		cases []procCase
	}{
		{TimestampConfig{}, []procCase{
			{name: "rfc3339nano", in: ts("2026-11-28T17:47:00.123456789+01:00"), want: ts("2026-11-28T17:47:00.123456789+01:00"),
				time: at("2026-11-28T16:47:00.123456789Z")},
			{name: "rfc3339 without fraction", in: ts("2026-11-28T17:47:00Z"), want: ts("2026-11-28T17:47:00Z"), time: at("2026-11-28T17:47:00Z")},
			{name: "unix string, fraction read exactly", in: ts("1764352020.123456789"), want: ts("1764352020.123456789"),
				time: at("2025-11-28T17:47:00.123456789Z")},
			{name: "unix number", in: map[string]any{"timestamp": 1764352020.123}, want: map[string]any{"timestamp": 1764352020.123},
				time: at("2025-11-28T17:47:00.123Z")},
			{name: "negative unix", in: ts("-1.5"), want: ts("-1.5"), time: at("1969-12-31T23:59:58.5Z")},
			{name: "unix int64", in: map[string]any{"timestamp": int64(86400)}, want: map[string]any{"timestamp": int64(86400)},
				time: at("1970-01-02T00:00:00Z")},
			{name: "a time is taken as it is", in: map[string]any{"timestamp": syslogTime}, want: map[string]any{"timestamp": syslogTime}, time: syslogTime},
			{name: "milliseconds are out of range as seconds", in: ts("1764352020123"), want: ts("1764352020123"), failed: true},
			{name: "no layout", in: ts("yesterday"), want: ts("yesterday"), failed: true},
			{name: "missing", in: msg("x"), want: msg("x"), failed: true},
			{name: "a bool", in: map[string]any{"timestamp": true}, want: map[string]any{"timestamp": true}, failed: true},
		}},
		{TimestampConfig{Field: "t", Layouts: []string{"unix", "unix_ms", "unix_us", "unix_ns"}, Remove: true}, []procCase{
			{name: "seconds", in: map[string]any{"t": 1764352020.0}, want: map[string]any{}, time: at("2025-11-28T17:47:00Z")},
			{name: "milliseconds", in: map[string]any{"t": 1764352020123.0}, want: map[string]any{}, time: at("2025-11-28T17:47:00.123Z")},
			{name: "microseconds", in: map[string]any{"t": "1764352020123456"}, want: map[string]any{}, time: at("2025-11-28T17:47:00.123456Z")},
			{name: "nanoseconds", in: map[string]any{"t": "1764352020123456789"}, want: map[string]any{}, time: at("2025-11-28T17:47:00.123456789Z")},
			{name: "exponent", in: map[string]any{"t": "1.76435202e9"}, want: map[string]any{}, time: at("2025-11-28T17:47:00Z")},
			{name: "fractional milliseconds", in: map[string]any{"t": "1764352020123.5"}, want: map[string]any{}, time: at("2025-11-28T17:47:00.1235Z")},
			{name: "not a number", in: map[string]any{"t": "12a"}, want: map[string]any{"t": "12a"}, failed: true},
		}},
		{TimestampConfig{Field: "http.time", Layouts: []string{"common_log", "2006-01-02 15:04:05"}, Timezone: "America/New_York", OnError: "drop"}, []procCase{
			{name: "common log", in: map[string]any{"http": map[string]any{"time": "28/Nov/2026:17:47:00 +0100"}},
				want: map[string]any{"http": map[string]any{"time": "28/Nov/2026:17:47:00 +0100"}}, time: at("2026-11-28T16:47:00Z")},
			{name: "layout without zone in the timezone", in: map[string]any{"http": map[string]any{"time": "2026-07-01 12:00:00"}},
				want: map[string]any{"http": map[string]any{"time": "2026-07-01 12:00:00"}}, time: at("2026-07-01T16:00:00Z")},
			{name: "a number and no unix layout", in: map[string]any{"http": map[string]any{"time": 5.0}}, want: nil, failed: true},
			{name: "dropped", in: map[string]any{"http": map[string]any{"time": "2026-07-01"}}, want: nil, failed: true},
		}},
	} {
		runCases(t, tc.cases, func(set component.Settings) (component.Processor, error) { return NewTimestamp(tc.cfg, set) })
	}
}

func TestParseUnix(t *testing.T) {
	for _, tc := range []struct {
		in        string
		perSecond int64
		want      string
	}{
		{"0", 1, "1970-01-01T00:00:00Z"},
		{"1.000000001", 1, "1970-01-01T00:00:01.000000001Z"},
		{"1.0000000019", 1, "1970-01-01T00:00:01.000000001Z"},
		{"+2", 1e3, "1970-01-01T00:00:00.002Z"},
		{".5", 1, "1970-01-01T00:00:00.5Z"},
		{"-1500", 1e3, "1969-12-31T23:59:58.5Z"},
		{"1500.25", 1e6, "1970-01-01T00:00:00.00150025Z"},
		{"1e3", 1e3, "1970-01-01T00:00:01Z"},
		{"-2.5e0", 1, "1969-12-31T23:59:57.5Z"},
	} {
		got, err := parseUnix(tc.in, tc.perSecond)
		if err != nil {
			t.Errorf("%s/%d: %v", tc.in, tc.perSecond, err)
			continue
		}
		if got.Format(time.RFC3339Nano) != tc.want {
			t.Errorf("%s/%d: %s, want %s", tc.in, tc.perSecond, got.Format(time.RFC3339Nano), tc.want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1.2.3", "0x10", "1_000", "99999999999999999999", "9223372036854775807", "1e300", "-9223372036854775807", "NaN", "inf", "1e", " 1"} {
		if got, err := parseUnix(bad, 1); err == nil {
			t.Errorf("%q read as %v", bad, got)
		}
	}
}
