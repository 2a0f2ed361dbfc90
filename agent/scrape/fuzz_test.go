package scrape_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/agent/scrape"
)

func FuzzParseFileSD(f *testing.F) {
	f.Add([]byte(`[{"targets": ["a:1", "b:2"], "labels": {"zone": "x"}}]`))
	f.Add([]byte("- targets: [a:1]\n  labels: {env: prod}\n"))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		groups, err := scrape.ParseFileSD(b)
		if err != nil {
			return
		}
		for _, g := range groups {
			for _, tg := range g.Targets {
				if tg == "" {
					t.Fatalf("empty target accepted from %q", b)
				}
			}
		}
	})
}

func TestParseFileSD(t *testing.T) {
	for _, tc := range []struct {
		in      string
		targets int
		err     string
	}{
		{`[{"targets": ["a:1", "b:2"], "labels": {"zone": "x"}}]`, 2, ""},
		{"- targets: [a:1]\n  labels: {env: prod}\n", 1, ""},
		{`[{"targets": [""]}]`, 0, "file_sd group 0: empty target"},
		{`{"targets": ["a:1"]}`, 0, "decode file_sd"},
	} {
		groups, err := scrape.ParseFileSD([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		n := 0
		for _, g := range groups {
			n += len(g.Targets)
		}
		if n != tc.targets {
			t.Errorf("%q: %d targets, want %d", tc.in, n, tc.targets)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
