package template

import (
	"math"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/event"
)

func TestTemplate(t *testing.T) {
	e := &event.Event{
		Fields: event.FieldsOf(map[string]any{"level": "warn", "http": map[string]any{"status": 503.0, "ok": false}, "a.b": "dotted", "n": int64(7), "at": time.Unix(0, 0).UTC()}),
		Meta:   map[string]string{"host": "web-1", "source": "nginx"},
	}
	tests := []struct {
		tmpl, want string
	}{
		{"literal", "literal"},
		{"", ""},
		{"{{ meta.host }}", "web-1"},
		{"{{meta.source}}", "nginx"},
		{"{{ meta.absent }}", ""},
		{"{{ level }}", "warn"},
		{"{{ http.status }}/{{ http.ok }}", "503/false"},
		{"{{ a.b }}", "dotted"},
		{"{{ n }}", "7"},
		{"{{ at }}", "1970-01-01T00:00:00Z"},
		{"{{ http }}", `{"ok":false,"status":503}`},
		{"{{ absent.path }}", ""},
		{"{{ meta.host }}-{{ level }}-x", "web-1-warn-x"},
	}
	for _, tt := range tests {
		tm, err := Parse(tt.tmpl)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.tmpl, err)
			continue
		}
		if got := string(tm.AppendTo(nil, e)); got != tt.want {
			t.Errorf("%q expands to %q, want %q", tt.tmpl, got, tt.want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"{{ meta.host", `"{{ meta.host" has a {{ with no }} after it`},
		{"a }} b", `"a }} b" has a }} with no {{ before it`},
		{"{{ a }} }}", `"{{ a }} }}" has a }} with no {{ before it`},
		{"{{}}", `"{{}}": empty {{ }}: want {{ field.path }} or {{ meta.key }}`},
		{"{{ meta. }}", `"{{ meta. }}": {{ meta. }} names no meta key`},
		{"{{ a..b }}", `"{{ a..b }}": field path "a..b" has an empty segment`},
		{"{{ .Host }}", `"{{ .Host }}": field path ".Host" has an empty segment`},
		{"{{ a | upper }}", `"{{ a | upper }}": {{ a | upper }} is not a field path or meta.key (no spaces, pipes or functions)`},
		{"{{ {{ a }}", `"{{ {{ a }}": {{ inside {{ }}`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.tmpl)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) = %v, want %q", tt.tmpl, err, tt.want)
		}
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"", "x", "{{ meta.host }}", "{{ a.b }}-{{c}}", "{{", "}}", "{{ {{ }} }}"} {
		f.Add(s)
	}
	e := &event.Event{Fields: event.FieldsOf(map[string]any{"a": map[string]any{"b": "B"}, "c": "C"}), Meta: map[string]string{"host": "H"}}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := Parse(s)
		if err != nil {
			return
		}
		out := tm.AppendTo(nil, e)
		if len(tm.parts) == 1 && tm.parts[0].ref == "" && string(out) != s {
			t.Errorf("literal %q expands to %q", s, out)
		}
	})
}

func TestAppendText(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		v    any
		want string
	}{
		{200.0, "200"}, {-3.0, "-3"}, {0.0, "0"}, {math.Copysign(0, -1), "-0"}, {0.25, "0.25"},
		{1e21, "1000000000000000000000"}, {int64(-7), "-7"}, {7, "7"}, {true, "true"}, {"s", "s"},
		{nil, ""}, {[]any{1.0, "a"}, `[1,"a"]`}, {t0, "2026-01-02T03:04:05Z"},
	}
	for _, tt := range tests {
		got := string(AppendText(nil, tt.v))
		if got != tt.want || (tt.v != nil && got != event.Format(tt.v)) {
			t.Errorf("AppendText(%#v) = %q, want %q (event.Format: %q)", tt.v, got, tt.want, event.Format(tt.v))
		}
	}
}
