package httplog

import (
	"bytes"
	"testing"
)

// FuzzSplitEvents: events are non-blank and, for JSON, objects; a
// failure names a line that exists.
func FuzzSplitEvents(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		events, err := SplitEvents(body, isJSON)
		if err != nil {
			le, ok := err.(*LineError)
			if !ok || le.Line < 1 || le.Line > 1+bytes.Count(body, []byte("\n")) {
				t.Fatalf("error %v", err)
			}
			return
		}
		for _, e := range events {
			if len(bytes.TrimSpace(e)) == 0 || (isJSON && bytes.TrimSpace(e)[0] != '{') {
				t.Fatalf("event %q", e)
			}
		}
	})
}
