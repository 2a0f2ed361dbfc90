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
	badYAML := "broker:\n  flush: sometimes\nagent:\n  sources:\n    x: {type: tail}\n" +
		"collector:\n  pipelines:\n    p:\n      from: {topic: logs}\n      processors:\n        - parse_regex: {pattern: '(unnamed'}\n" +
		"        - filter: {condition: 'level =='}\n      to: [out, missing]\n  sinks:\n    out: {type: file, path: ./x.log, encoding: yaml}\n"
	if err := os.WriteFile(bad, []byte(badYAML), 0o644); err != nil {
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
		bad + ":5:15: source x: type \"tail\" is not one of file, host_metrics, http, prometheus_remote_write, prometheus_scrape, syslog\n" +
		bad + ":11:34: collector.pipelines.p.processors[0].parse_regex.pattern: error parsing regexp: missing closing ): `(unnamed`\n" +
		bad + ":12:31: collector.pipelines.p.processors[1].filter.condition: \"level ==\" does not compile: unexpected token EOF (at column 8)\n" +
		bad + ":13:17: pipeline p: sink \"missing\" is not defined in collector.sinks\n" +
		bad + ":15:48: collector.sinks.out.encoding: \"yaml\" is not an encoding (want json or text)\n"
	if err == nil || out != want {
		t.Fatalf("validate bad config: err %v, output:\n%s\nwant:\n%s", err, out, want)
	}
	if out, err := run(good); err != nil || out != good+": ok\n" {
		t.Fatalf("validate good config: %v %q", err, out)
	}
}
