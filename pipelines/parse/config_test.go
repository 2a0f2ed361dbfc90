package parse

import (
	"testing"

	"github.com/sluicehq/sluice/pipelines/config"
)

var components = &config.Components{
	Processors: map[string]func() any{
		"parse_json":   func() any { return new(JSONConfig) },
		"parse_logfmt": func() any { return new(LogfmtConfig) },
		"parse_regex":  func() any { return new(RegexConfig) },
		"parse_syslog": func() any { return new(SyslogConfig) },
		"timestamp":    func() any { return new(TimestampConfig) },
	},
	Sinks: map[string]func() any{"null": func() any { return new(struct{}) }},
}

// The processors' keys, inlined Common ones included, as the collector
// config loader reads and checks them.
func TestConfigFile(t *testing.T) {
	good := `collector:
  pipelines:
    logs:
      from: {topic: logs}
      processors:
        - parse_syslog: {timezone: Europe/Paris, on_error: drop}
        - parse_json: {field: message, target: doc, remove_source: true}
        - parse_logfmt: {}
        - parse_regex: {field: doc.line, pattern: '^(?P<level>\w+):'}
        - timestamp: {field: ts, layouts: [unix_ms, "2006-01-02 15:04:05"], timezone: UTC, remove: true, on_error: keep}
      to: [out]
  sinks:
    out: {type: "null"}
`
	f, err := config.ParseWith("good.yaml", []byte(good), components)
	if err != nil {
		t.Fatal(err)
	}
	procs := f.Collector.Pipelines["logs"].Processors
	if got := procs[1].Config.(*JSONConfig); *got != (JSONConfig{Common{Field: "message", Target: "doc", RemoveSource: true}}) {
		t.Errorf("parse_json config: %+v", got)
	}
	if got := procs[4].Config.(*TimestampConfig); got.Field != "ts" || len(got.Layouts) != 2 || !got.Remove || got.OnError != "keep" {
		t.Errorf("timestamp config: %+v", got)
	}

}

// Schema errors (unknown keys, wrong types) are reported by the loader
// with their place; Validate's, once the schema is right, with the key.
func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, procs, want string
	}{
		{"schema", `
        - parse_json: {feild: message}
        - parse_logfmt: {remove_source: maybe}`,
			`bad.yaml:6:24: unknown key "feild" in collector.pipelines.logs.processors[0].parse_json (known: field, on_error, remove_source, target)
bad.yaml:7:41: collector.pipelines.logs.processors[1].parse_logfmt.remove_source: want true or false, got "maybe"`},
		{"validate", `
        - parse_regex: {pattern: '(x'}
        - timestamp: {layouts: [unixx], on_error: skip}`,
			"bad.yaml:6:34: collector.pipelines.logs.processors[0].parse_regex.pattern: error parsing regexp: missing closing ): `(x`\n" +
				`bad.yaml:7:33: collector.pipelines.logs.processors[1].timestamp.layouts[0]: "unixx" is not a layout name (rfc3339, rfc3339nano, unix, unix_ms, unix_us, unix_ns, common_log) nor a Go layout with a time element like 2006 or 15:04:05` + "\n" +
				`bad.yaml:7:51: collector.pipelines.logs.processors[1].timestamp.on_error: "skip" is not keep or drop`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := "collector:\n  pipelines:\n    logs:\n      from: {topic: logs}\n      processors:" + tc.procs +
				"\n      to: [out]\n  sinks:\n    out: {type: \"null\"}\n"
			_, err := config.ParseWith("bad.yaml", []byte(file), components)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}
