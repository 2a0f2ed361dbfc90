package main

import (
	"bytes"
	"regexp"
	"runtime"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	tests := []struct {
		name    string
		ldflags string // value of the version variable, as -ldflags would set it
		want    *regexp.Regexp
	}{
		{
			name:    "default",
			ldflags: "dev",
			// A test binary has no module version, so "dev" stays; accept a
			// real one too in case the tests run from a module download.
			want: regexp.MustCompile(`^sluice \S+ \(` + regexp.QuoteMeta(runtime.Version()) + `\)\n$`),
		},
		{
			name:    "ldflags",
			ldflags: "v1.2.3",
			want:    regexp.MustCompile(`^sluice v1\.2\.3 \(` + regexp.QuoteMeta(runtime.Version()) + `\)\n$`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := version
			version = tt.ldflags
			t.Cleanup(func() { version = old })

			var out bytes.Buffer
			cmd := newRootCmd()
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs([]string{"version"})
			if err := cmd.Execute(); err != nil {
				t.Fatalf("sluice version: %v", err)
			}
			if !tt.want.MatchString(out.String()) {
				t.Errorf("sluice version printed %q, want a match for %s", out.String(), tt.want)
			}
		})
	}
}

func TestVersionRejectsArgs(t *testing.T) {
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"version", "extra"})
	if err := cmd.Execute(); err == nil {
		t.Errorf("sluice version extra succeeded, printed %q", out.String())
	}
}
