package kafka

import (
	"github.com/sluicehq/sluice/pipelines/template"
	"testing"

	"github.com/sluicehq/sluice/pipelines/event"
)

func TestTemplate(t *testing.T) {
	e := event.NewLog("hi", t0, map[string]string{"host": "web-1", "env": "prod"})
	e.Set("service", "api")
	e.Set("http.status", 503.0)
	e.Set("ok", true)
	e.Set("tags", []any{"a", "b"})
	tests := []struct {
		tmpl, want string
		literal    bool
	}{
		{"", "", true},
		{"logs", "logs", true},
		{"{{ meta.host }}", "web-1", false},
		{"{{meta.env}}-{{ service }}-x", "prod-api-x", false},
		{"{{ http.status }}/{{ ok }}", "503/true", false},
		{"{{ tags }}", `["a","b"]`, false},
		{"a{{ missing }}b{{ meta.missing }}c", "abc", false},
		{"{{ message }}", "hi", false},
		{"x } {y}", "x } {y}", true},
	}
	for _, tt := range tests {
		tp, err := template.Parse(tt.tmpl)
		if err != nil {
			t.Fatalf("parse %q: %v", tt.tmpl, err)
		}
		if got := string(tp.AppendTo([]byte(">"), e)); got != ">"+tt.want {
			t.Errorf("%q expands to %q, want %q", tt.tmpl, got, ">"+tt.want)
		}
		if lit, ok := tp.Literal(); ok != tt.literal || ok && lit != tt.want {
			t.Errorf("%q literal() = %q, %v", tt.tmpl, lit, ok)
		}
	}
}

func TestSanitizeTopic(t *testing.T) {
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a'
	}
	for in, want := range map[string]string{
		"logs":        "logs",
		"a/b c:d":     "a_b_c_d",
		"Ünïcode":     "__n__code",
		".":           "_",
		"..":          "__",
		"...":         "...",
		string(long):  string(long[:249]),
		"ok.-_09AZaz": "ok.-_09AZaz",
	} {
		if got := string(sanitizeTopic([]byte(in))); got != want {
			t.Errorf("sanitizeTopic(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTopicCacheInterns(t *testing.T) {
	var c topicCache
	a := c.intern([]byte("logs"))
	if n := testing.AllocsPerRun(100, func() { _ = c.intern([]byte("logs")) }); n != 0 {
		t.Fatalf("intern of a known topic allocates %v times", n)
	}
	for i := range maxCachedTopics + 1 {
		c.intern([]byte{byte(i), byte(i >> 8)})
	}
	if len(c.names) > maxCachedTopics || a != "logs" {
		t.Fatalf("cache holds %d names, want at most %d", len(c.names), maxCachedTopics)
	}
}
