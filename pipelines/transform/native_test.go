package transform

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/event"
)

// A condition run as a stringTest gives what expr's VM gives, for every
// kind of name and of value, present or not.
func TestStringTestsMatchTheVM(t *testing.T) {
	codes := []string{
		`level == "debug"`, `"debug" == level`, `level != "debug"`, `level == ""`, `level != ""`,
		`http.method == "GET"`, `http.method != "GET"`, `meta.host == "h1"`, `meta.host != ""`, `meta.gone == ""`,
		`message == "hello"`, `message != ""`, `n == "1"`, `nested == "x"`, `absent == ""`, `absent != "x"`,
	}
	events := []*event.Event{
		event.NewLog("hello", time.Time{}, map[string]string{"host": "h1"}),
		event.NewLog("other", time.Time{}, nil),
		{Kind: event.KindLog, Fields: event.FieldsOf(map[string]any{"message": 5.0})},
		{Kind: event.KindMetric},
	}
	e := events[0]
	e.Fields.Set("level", "debug")
	e.Fields.Set("n", 1.0)
	e.Fields.Set("nested", map[string]any{"x": "x"})
	e.Fields.Set("http", map[string]any{"method": "GET"})
	events[1].Fields.Set("level", "info")
	events[1].Fields.Set("http.method", "GET")
	for _, code := range codes {
		c, err := newConditions(code)
		if err != nil {
			t.Fatal(err)
		}
		if c.tests[0] == nil {
			t.Fatalf("%s: not taken as a string test", code)
		}
		for i, e := range events {
			ev := c.get()
			ev.bind(e)
			native, err1 := ev.match(0)
			test := c.tests[0]
			c.tests[0] = nil
			ev.bind(e)
			vm, err2 := ev.match(0)
			c.tests[0] = test
			c.put(ev)
			if native != vm || err1 != nil || err2 != nil {
				t.Errorf("%s on event %d: native %v (%v), VM %v (%v)", code, i, native, err1, vm, err2)
			}
		}
	}
	for _, code := range []string{`level == 1`, `level == "a" && x == "b"`, `kind == "log"`, `let v = "a"; v == "a"`, `level in ["a"]`} {
		c, err := newConditions(code)
		if err != nil {
			t.Fatal(err)
		}
		if c.tests[0] != nil {
			t.Errorf("%s: taken as a string test", code)
		}
	}
}
