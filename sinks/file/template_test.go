package file

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/event"
)

func TestTemplateExpand(t *testing.T) {
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	e := &event.Event{Time: at,
		Fields: event.FieldsOf(map[string]any{"app": "web", "http": map[string]any{"status": 503.0}, "level": nil, "ok": true}),
		Meta:   map[string]string{"host": "h1", "dots": "..", "slash": "../../etc/passwd", "empty": ""}}
	tests := []struct {
		tmpl, tz, want string
	}{
		{"out/app.log", "", "out/app.log"},
		{"out/%Y-%m-%d/%H%M%S-%j.log", "", "out/2026-02-03/040506-034.log"},
		{"out/100%%-%Y.log", "", "out/100%-2026.log"},
		{"out/%Y-%m-%dT%H.log", "America/New_York", "out/2026-02-02T23.log"},
		{"out/%H.log", "Asia/Kolkata", "out/09.log"},
		{"out/{{ meta.host }}/{{app}}-{{ http.status }}-{{ ok }}.log", "", "out/h1/web-503-true.log"},
		{"out/{{ meta.missing }}/{{ nope }}-{{ level }}.log", "", "out/_/_-_.log"},
		{"out/{{ meta.dots }}/x.log", "", "out/__/x.log"},
		{"out/.{{ meta.dots }}/x.log", "", "out/.__/x.log"},
		{"out/{{ meta.slash }}.log", "", "out/.._.._etc_passwd.log"},
		{"out/{{ meta.empty }}.log", "", "out/_.log"},
	}
	for _, tt := range tests {
		tmpl, err := parseTemplate(tt.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tt.tmpl, err)
		}
		loc, err := loadLocation(tt.tz)
		if err != nil {
			t.Fatal(err)
		}
		c := clockOf(at, loc, tmpl.yearDay)
		if got := string(tmpl.appendPath(nil, e, &c)); got != tt.want {
			t.Errorf("%s in %q: got %q, want %q", tt.tmpl, tt.tz, got, tt.want)
		}
	}
}

func TestAppendSafe(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	tests := map[string]string{
		"":            "_",
		".":           "_",
		"..":          "__",
		"...":         "___",
		"a..b":        "a..b",
		"../x":        ".._x",
		`a\b`:         "a_b",
		"a\x00b\nc":   "a_b_c",
		"web-01.prod": "web-01.prod",
		long:          strings.Repeat("é", 64),
	}
	for in, want := range tests {
		if got := string(appendSafe(nil, in)); got != want {
			t.Errorf("appendSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzAppendSafe checks that no value makes a path element that leaves
// its directory.
func FuzzAppendSafe(f *testing.F) {
	for _, seed := range []string{"", ".", "..", "../..", "a/b", `..\..`, "\x00", strings.Repeat("ü", 80)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := string(appendSafe(nil, v))
		if got == "" || strings.ContainsAny(got, "/\\\x00") || strings.Trim(got, ".") == "" || len(got) > maxValueLen {
			t.Fatalf("appendSafe(%q) = %q", v, got)
		}
		// With a literal dot on either side it is still not "..".
		for _, el := range []string{"." + got, got + "."} {
			if el == ".." {
				t.Fatalf("appendSafe(%q) = %q makes ..", v, got)
			}
		}
	})
}

// TestCachedPath checks that the cached expansion of a time-only template
// is what a fresh expansion gives, across span edges, in UTC and in a
// zone with daylight saving.
func TestCachedPath(t *testing.T) {
	for _, tc := range []struct{ tmpl, tz string }{
		{"a/%Y-%m-%d.log", ""}, {"a/%Y-%m-%dT%H.log", ""}, {"a/%H%M.log", ""}, {"a/%S.log", ""},
		{"a/%Y.log", ""}, {"a/%Y-%m.log", ""}, {"a/%j.log", ""}, {"a/static.log", ""},
		{"a/%Y-%m-%dT%H.log", "Europe/Paris"}, {"a/%d.log", "America/New_York"},
	} {
		s := newTestSink(t, Config{Path: tc.tmpl, Timezone: tc.tz}, &fakeClock{now: t0})
		// Steps of 7m13s over four days around a DST change (Paris:
		// 2026-10-25), then a few month and year edges.
		var times []time.Time
		for at := time.Date(2026, 10, 23, 22, 0, 0, 0, time.UTC); at.Before(time.Date(2026, 10, 27, 0, 0, 0, 0, time.UTC)); at = at.Add(433 * time.Second) {
			times = append(times, at)
		}
		for _, edge := range []time.Time{time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2027, 1, 31, 23, 59, 59, 0, time.UTC), time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)} {
			times = append(times, edge)
		}
		for _, at := range times {
			c := clockOf(at, s.loc, s.tmpl.yearDay)
			want := string(s.tmpl.appendPath(nil, nil, &c))
			if got := s.cachedPath(at); got != want {
				t.Fatalf("%s (%s) at %s: cached %q, want %q", tc.tmpl, tc.tz, at, got, want)
			}
		}
	}
}
