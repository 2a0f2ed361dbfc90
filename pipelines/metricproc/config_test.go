package metricproc

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pipelines/config"
)

// loadProcessor checks a collector config whose one pipeline runs the
// processor written in body (YAML, indented under `processors:`), as
// `sluice validate` would, and returns the errors, one per line.
func loadProcessor(t *testing.T, body string) (*config.File, string) {
	t.Helper()
	src := `collector:
  pipelines:
    m:
      from: {topic: metrics}
      to: [out]
      processors:
` + body + `
  sinks:
    out: {type: stdout}
`
	comps := &config.Components{
		Processors: map[string]func() any{
			"relabel":       func() any { return new(RelabelConfig) },
			"log_to_metric": func() any { return new(LogToMetricConfig) },
		},
		Sinks: map[string]func() any{"stdout": func() any { return new(struct{}) }},
	}
	f, err := config.ParseWith("c.yaml", []byte(src), comps)
	if err != nil {
		return nil, err.Error()
	}
	return f, ""
}

func TestRelabelConfig(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // the errors, "" for none
	}{{
		name: "good",
		body: `
        - relabel:
            configs:
              - {source_labels: [__name__], regex: "up|http_.*", action: keep}
              - {source_labels: [instance], regex: "(.*):\\d+", target_label: host}
              - {regex: tmp_.*, action: labeldrop}`,
	}, {
		name: "no rules",
		body: `
        - relabel: {}`,
	}, {
		name: "bad regex",
		body: `
        - relabel:
            configs:
              - {source_labels: [a], regex: "(x", action: keep}`,
		want: "c.yaml:10:17: collector.pipelines.m.processors[0].relabel.configs[0]: error parsing regexp: missing closing ): `^(?s:(x)$`",
	}, {
		name: "bad action",
		body: `
        - relabel:
            configs:
              - {source_labels: [a], action: replce}`,
		want: `c.yaml:10:17: collector.pipelines.m.processors[0].relabel.configs[0]: unknown relabel action "replce"`,
	}, {
		name: "replace without target_label, hashmod without modulus",
		body: `
        - relabel:
            configs:
              - {source_labels: [a], regex: "(.*)", replacement: "$1"}
              - {source_labels: [a], target_label: shard, action: hashmod}
              - {source_labels: [a], target_label: b, action: labeldrop}`,
		want: "c.yaml:10:17: collector.pipelines.m.processors[0].relabel.configs[0]: relabel configuration for replace action requires 'target_label' value\n" +
			"c.yaml:11:17: collector.pipelines.m.processors[0].relabel.configs[1]: relabel configuration for hashmod requires non-zero modulus\n" +
			"c.yaml:12:17: collector.pipelines.m.processors[0].relabel.configs[2]: labeldrop action requires only 'regex', and no other fields",
	}, {
		name: "empty rule",
		body: `
        - relabel:
            configs:
              -`,
		want: "c.yaml:10:16: collector.pipelines.m.processors[0].relabel.configs[0]: empty rule: want at least an action, e.g. {action: labeldrop, regex: tmp_.*}",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := loadProcessor(t, tt.body)
			if got != tt.want {
				t.Errorf("errors:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRelabelConfigDecoded(t *testing.T) {
	f, errs := loadProcessor(t, `
        - relabel:
            configs:
              - {source_labels: [instance], regex: "(.*):\\d+", target_label: host}`)
	if errs != "" {
		t.Fatal(errs)
	}
	cfg := f.Collector.Pipelines["m"].Processors[0].Config.(*RelabelConfig)
	rc := cfg.Configs[0]
	got := strings.Join([]string{string(rc.Action), rc.Regex.String(), rc.Replacement, rc.Separator, rc.TargetLabel}, " ")
	if want := `replace (.*):\d+ $1 ; host`; got != want {
		t.Fatalf("decoded %q, want Prometheus's defaults filled in: %q", got, want)
	}
}
