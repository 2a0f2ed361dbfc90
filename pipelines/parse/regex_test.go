package parse

import (
	"testing"

	"github.com/sluicehq/sluice/pipelines/component"
)

func TestParseRegex(t *testing.T) {
	access := `10.0.0.1 - - [28/Nov/2026:17:47:00 +0000] "GET /index.html HTTP/1.1" 200 512`
	pattern := `^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-)(?: "(?P<referer>[^"]*)")?$`
	for _, tc := range []struct {
		cfg   RegexConfig
		cases []procCase
	}{
		{RegexConfig{Pattern: pattern}, []procCase{
			{name: "access log", in: msg(access), want: map[string]any{"message": access, "client": "10.0.0.1", "time": "28/Nov/2026:17:47:00 +0000",
				"method": "GET", "path": "/index.html", "status": "200", "bytes": "512"}},
			{name: "optional group taken", in: msg(access + ` "http://x/"`), want: map[string]any{"message": access + ` "http://x/"`, "client": "10.0.0.1",
				"time": "28/Nov/2026:17:47:00 +0000", "method": "GET", "path": "/index.html", "status": "200", "bytes": "512", "referer": "http://x/"}},
			{name: "no match", in: msg("garbage"), want: msg("garbage"), failed: true},
		}},
		{RegexConfig{Common: Common{Field: "raw", Target: "m", RemoveSource: true}, Pattern: `(?P<a>\d+)(x)(?<b>y*)(?P<a>z)?`}, []procCase{
			{name: "unanchored, unnamed group ignored, empty group kept", in: map[string]any{"raw": "--12x--"},
				want: map[string]any{"m": map[string]any{"a": "12", "b": ""}}},
			{name: "repeated name: the last group that took part", in: map[string]any{"raw": "7xyyz"},
				want: map[string]any{"m": map[string]any{"a": "z", "b": "yy"}}},
		}},
		{RegexConfig{Common: Common{OnError: "drop"}, Pattern: `^(?P<message>\w+): `}, []procCase{
			{name: "group named like the source replaces it", in: msg("boot: ok"), want: msg("boot")},
			{name: "dropped", in: msg("nothing"), want: nil, failed: true},
		}},
	} {
		runCases(t, tc.cases, func(set component.Settings) (component.Processor, error) { return NewRegex(tc.cfg, set) })
	}
}
