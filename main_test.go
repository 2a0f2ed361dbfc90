package main

import (
	"bytes"
	"os"
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

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.yaml"
	good := dir + "/good.yaml"
	if err := os.WriteFile(bad, []byte("broker:\n  flush: sometimes\nagent:\n  sources:\n    x: {type: tail}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte("broker: {flush: sync}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(path string) (string, error) {
		var out bytes.Buffer
		cmd := newRootCmd()
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs([]string{"validate", "-c", path})
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run(bad)
	want := bad + ":2:10: flush: \"sometimes\" is not sync or async\n" +
		bad + ":5:15: source x: type \"tail\" is not one of file, host_metrics, http, prometheus_remote_write, prometheus_scrape, syslog\n"
	if err == nil || out != want {
		t.Fatalf("validate bad config: err %v, output:\n%s\nwant:\n%s", err, out, want)
	}
	if out, err := run(good); err != nil || out != good+": ok\n" {
		t.Fatalf("validate good config: %v %q", err, out)
	}
}
