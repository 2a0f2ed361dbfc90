package parse

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pipelines/component"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  interface{ Validate() error }
		want []string // "path: message", in order
	}{
		{"json defaults", &JSONConfig{}, nil},
		{"json all keys", &JSONConfig{Common{Field: "a.b", Target: "c", OnError: "drop", RemoveSource: true}}, nil},
		{"json bad keys", &JSONConfig{Common{Field: "a..b", Target: ".x", OnError: "skip"}}, []string{
			`field: "a..b" has an empty part: want a field name or a dotted path like http.request`,
			`target: ".x" has an empty part: want a field name or a dotted path like http.request`,
			`on_error: "skip" is not keep or drop`,
		}},
		{"logfmt bad on_error", &LogfmtConfig{Common{OnError: "Keep"}}, []string{`on_error: "Keep" is not keep or drop`}},
		{"regex ok", &RegexConfig{Pattern: `(?P<a>x)`}, nil},
		{"regex missing pattern", &RegexConfig{}, []string{`pattern: is required: a regular expression with named groups like (?P<status>\d+)`}},
		{"regex bad pattern", &RegexConfig{Pattern: `(?P<a>x`}, []string{"pattern: error parsing regexp: missing closing ): `(?P<a>x`"}},
		{"regex no named group", &RegexConfig{Pattern: `(\d+) (x)`}, []string{`pattern: "(\\d+) (x)" has no named group like (?P<name>...): nothing would be extracted`}},
		{"regex and common", &RegexConfig{Common: Common{Target: "a."}, Pattern: `x`}, []string{
			`target: "a." has an empty part: want a field name or a dotted path like http.request`,
			`pattern: "x" has no named group like (?P<name>...): nothing would be extracted`,
		}},
		{"syslog ok", &SyslogConfig{Timezone: "Asia/Tokyo"}, nil},
		{"syslog bad timezone", &SyslogConfig{Timezone: "Mars/Olympus", Common: Common{OnError: "x"}}, []string{
			`on_error: "x" is not keep or drop`,
			`timezone: "Mars/Olympus" is not an IANA time zone like Europe/Paris or UTC`,
		}},
		{"timestamp defaults", &TimestampConfig{}, nil},
		{"timestamp all keys", &TimestampConfig{Field: "t", Layouts: []string{"unix_ms", "Jan _2 15:04:05", "rfc3339"}, Timezone: "UTC", Remove: true, OnError: "drop"}, nil},
		{"timestamp bad keys", &TimestampConfig{Field: "t.", Layouts: []string{"unix", "unixms", ""}, Timezone: "Nowhere", OnError: "ignore"}, []string{
			`field: "t." has an empty part: want a field name or a dotted path like http.request`,
			`layouts[1]: "unixms" is not a layout name (rfc3339, rfc3339nano, unix, unix_ms, unix_us, unix_ns, common_log) nor a Go layout with a time element like 2006 or 15:04:05`,
			`layouts[2]: "" is not a layout name (rfc3339, rfc3339nano, unix, unix_ms, unix_us, unix_ns, common_log) nor a Go layout with a time element like 2006 or 15:04:05`,
			`timezone: "Nowhere" is not an IANA time zone like Europe/Paris or UTC`,
			`on_error: "ignore" is not keep or drop`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, fe := range component.FieldErrors(tc.cfg.Validate()) {
				got = append(got, fe.Path+": "+fe.Msg)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}

// The constructors refuse what Validate refuses.
func TestNewRefusesInvalid(t *testing.T) {
	set := newHarness("x").set
	if _, err := NewJSON(JSONConfig{Common{OnError: "x"}}, set); err == nil {
		t.Error("NewJSON")
	}
	if _, err := NewLogfmt(LogfmtConfig{Common{Field: "."}}, set); err == nil {
		t.Error("NewLogfmt")
	}
	if _, err := NewRegex(RegexConfig{Pattern: "("}, set); err == nil {
		t.Error("NewRegex")
	}
	if _, err := NewSyslog(SyslogConfig{Timezone: "x/y"}, set); err == nil {
		t.Error("NewSyslog")
	}
	if _, err := NewTimestamp(TimestampConfig{Layouts: []string{"nope"}}, set); err == nil {
		t.Error("NewTimestamp")
	}
}
