package kafka

import (
	"github.com/sluicehq/sluice/pipelines/template"
	"testing"

	"github.com/sluicehq/sluice/pipelines/event"
)

// FuzzTemplate: any template either fails to parse or expands without
// panicking; a literal expands to itself, and a sanitised non-empty
// expansion is always a topic name Kafka accepts.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"", "logs", "logs-{{ meta.host }}", "{{ a.b }}{{c}}", "{{", "}}{{ x }}", "{{ meta. }}", "a{{ b }}c{{ d"} {
		f.Add(s)
	}
	e := event.NewLog("m", t0, map[string]string{"host": "h/1", "": "empty"})
	e.Set("a.b", "x y")
	e.Set("c", 1.5)
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := template.Parse(s)
		if err != nil {
			return
		}
		out := tp.AppendTo(nil, e)
		if lit, ok := tp.Literal(); ok && string(out) != lit {
			t.Fatalf("literal %q expands to %q", lit, out)
		}
		if len(out) == 0 {
			return
		}
		if name := sanitizeTopic(out); topicProblem(string(name)) != "" {
			t.Fatalf("%q sanitised to %q: %s", s, name, topicProblem(string(name)))
		}
	})
}
