package parse

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/pipelines/event"
)

// FuzzJSONDecoderMatchesEncodingJSON checks the decoder against
// encoding/json: for any input both refuse it, or both decode it to the
// same values (reflect.DeepEqual, which tells nil from an empty slice).
// One decoder serves every input, as a processor's serves every event,
// so its key cache and arena are exercised too.
func FuzzJSONDecoderMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`"\ud800\udc00 \ud800\u0041 \udc00 \ud800"`, "\"\xed\xa0\x80\xc3\"", `[1e308,-0,1E-7,0.1,123456789012345678,1e400]`,
		`{"a":1,"a":{"b":[]},"\u0061":null}`, `[+1,01,.5,1.]`, "\"\t\"", `[[[[[]]]]]`,
	} {
		f.Add(s)
	}
	var d jsonDecoder
	f.Fuzz(func(t *testing.T, s string) {
		got, err := d.decode(s, false, 0)
		var want any
		wantErr := json.Unmarshal([]byte(s), &want)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: the decoder says %v, encoding/json says %v", s, err, wantErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, show(got), show(want))
		}
		if _, isObject := want.(map[string]any); isObject {
			if m, err := d.decode(s, true, 3); err != nil || !reflect.DeepEqual(m, want) {
				t.Fatalf("%q as an object: %v %s", s, err, show(m))
			}
			var f event.Fields
			if err := d.decodeInto(s, &f, func() {}); err != nil || !reflect.DeepEqual(f.Map(), want) {
				t.Fatalf("%q into fields: %v %s", s, err, show(f.Map()))
			}
		} else if _, err := d.decode(s, true, 0); !errors.Is(err, errNotObject) {
			t.Fatalf("%q decoded as an object: %v", s, err)
		}
	})
}

// FuzzDecodeLogfmt checks that what decodes encodes back (keys bare,
// values quoted) to a line that decodes the same.
func FuzzDecodeLogfmt(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		m, err := decodeLogfmt(line, 0)
		if err != nil {
			return
		}
		var b []byte
		for k, v := range m {
			s := v.(string)
			if k == "" || strings.ContainsAny(k, "= \"") || !utf8.ValidString(k) {
				t.Fatalf("%q: bad key %q", line, k)
			}
			if !utf8.ValidString(s) {
				return // the JSON quoting below would change it
			}
			b = append(b, k...)
			b = append(b, '=')
			b = event.AppendString(b, s)
			b = append(b, ' ')
		}
		again, err := decodeLogfmt(string(b), 0)
		if err != nil || !equalValues(m, again) {
			t.Fatalf("%q decoded to %s; encoded as %q it decodes to %s (%v)", line, show(m), b, show(again), err)
		}
	})
}

// FuzzParseSyslog checks that any line parses or is refused without
// panicking, with a PRI in range and header fields taken from the line.
func FuzzParseSyslog(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		m, err := parseSyslog(line, readTime, time.UTC)
		if err != nil {
			return
		}
		if m.facility > 23 || m.severity > 7 || m.facility < 0 || m.severity < 0 {
			t.Fatalf("%q: PRI %d.%d", line, m.facility, m.severity)
		}
		for _, s := range []string{m.hostname, m.appname, m.procid, m.msgid, m.msg} {
			if !strings.Contains(line, s) {
				t.Fatalf("%q: %q is not from the line", line, s)
			}
		}
		if !m.timestamp.IsZero() && (m.timestamp.Year() < 0 || m.timestamp.Year() > 9999) {
			t.Fatalf("%q: timestamp %v", line, m.timestamp)
		}
		fields := m.fields(0)
		if fields[event.FieldMessage] != m.msg || fields[SyslogSeverity] == "" {
			t.Fatalf("%q: fields %s", line, show(fields))
		}
	})
}
