package transform

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/config"
)

// components lists this package's processors as the collector's
// components.go does, with a sink type that takes no keys.
var components = &config.Components{
	Processors: map[string]func() any{
		"set":      func() any { return &SetConfig{} },
		"rename":   func() any { return &RenameConfig{} },
		"remove":   func() any { return &RemoveConfig{} },
		"redact":   func() any { return &RedactConfig{} },
		"filter":   func() any { return &FilterConfig{} },
		"route":    func() any { return &RouteConfig{} },
		"sample":   func() any { return &SampleConfig{} },
		"throttle": func() any { return &ThrottleConfig{} },
	},
	Sinks: map[string]func() any{"nop": func() any { return &struct{}{} }},
}

const goodConfig = `
collector:
  pipelines:
    logs:
      from: {topic: logs}
      processors:
        - set: {fields: {env: prod, origin: "{{ meta.host }}"}, meta: {team: core}}
        - rename: {fields: {msg: message}}
        - remove: {fields: [password], meta: [file]}
        - redact: {presets: [email, ipv4], patterns: ["token=\\S+"], replacement: ""}
        - filter: {drop_if: 'level == "debug"'}
        - sample: {rate: 10, key: user, exclude: 'level == "error"'}
        - throttle: {limit: 100, window: 1m, key: "{{ meta.host }}", max_keys: 500}
        - route:
            mode: all
            routes:
              - {condition: 'level == "error"', to: [alerts]}
            default: [archive]
  sinks:
    alerts: {type: nop}
    archive: {type: nop}
`

func TestConfigFile(t *testing.T) {
	f, err := config.ParseWith("c.yaml", []byte(goodConfig), components)
	if err != nil {
		t.Fatal(err)
	}
	procs := f.Collector.Pipelines["logs"].Processors
	if got := *procs[3].Config.(*RedactConfig).Replacement; got != "" {
		t.Errorf("redact replacement %q, want empty", got)
	}
	if got, want := *procs[6].Config.(*ThrottleConfig), (ThrottleConfig{Limit: 100, Window: config.Duration(time.Minute), Key: "{{ meta.host }}", MaxKeys: 500}); got != want {
		t.Errorf("throttle config %+v, want %+v", got, want)
	}
	r := procs[7].Config.(*RouteConfig)
	if r.Mode != "all" || r.Routes[0].To[0] != "alerts" || r.Default[0] != "archive" {
		t.Errorf("route config %+v", r)
	}
}

func TestConfigFileErrors(t *testing.T) {
	const bad = `
collector:
  pipelines:
    logs:
      from: {topic: logs}
      processors:
        - filter: {condition: "level = 1", keep: true}
        - route:
            routes:
              - {condition: "true", to: [nowhere]}
        - throttle: {limit: 5, window: soon}
        - redact: {patterns: ["(", "x"]}
      to: [archive]
  sinks:
    archive: {type: nop}
`
	_, err := config.ParseWith("c.yaml", []byte(bad), components)
	want := `c.yaml:7:44: unknown key "keep" in collector.pipelines.logs.processors[0].filter (known: condition, drop_if)` + "\n" +
		`c.yaml:11:40: collector.pipelines.logs.processors[2].throttle.window: invalid duration "soon" (want e.g. 500ms, 15s, 72h, 7d)`
	if got := errText(err); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	const bad2 = `
collector:
  pipelines:
    logs:
      from: {topic: logs}
      processors:
        - filter: {condition: "level = 1"}
        - route:
            routes:
              - {condition: "true", to: [nowhere]}
        - redact: {patterns: ["(", "x"]}
      to: [archive]
  sinks:
    archive: {type: nop}
`
	_, err = config.ParseWith("c.yaml", []byte(bad2), components)
	want = `c.yaml:7:31: collector.pipelines.logs.processors[0].filter.condition: "level = 1" does not compile: unexpected token Operator("=") (at column 7)` + "\n" +
		`c.yaml:10:41: sink "nowhere" is not defined in collector.sinks` + "\n" +
		`c.yaml:11:31: collector.pipelines.logs.processors[2].redact.patterns[0]: "(" is not an RE2 regular expression: missing closing )`
	if got := errText(err); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
