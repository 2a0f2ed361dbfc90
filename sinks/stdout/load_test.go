package stdout

import (
	"testing"

	"github.com/sluicehq/sluice/pipelines/config"
)

// The sink's keys as the collector's config loader reads them.
func TestConfigFromYAML(t *testing.T) {
	comps := &config.Components{Sinks: map[string]func() any{"stdout": func() any { return &Config{} }}}
	const head = "collector:\n  pipelines:\n    logs: {from: {topic: logs}, to: [console]}\n  sinks:\n    console:\n      type: stdout\n"
	tests := []struct {
		yaml string
		want Config
		err  string
	}{
		{yaml: "", want: Config{}},
		{yaml: "      format: json\n      target: stderr\n", want: Config{Format: "json", Target: "stderr"}},
		{yaml: "      format: xml\n", err: `c.yaml:7:15: collector.sinks.console.format: "xml" is not a format (want text or json)`},
		{yaml: "      output: stderr\n", err: `c.yaml:7:7: unknown key "output" in collector.sinks.console (known: dlq_topic, format, on_failure, target, type)`},
	}
	for _, tt := range tests {
		f, err := config.ParseWith("c.yaml", []byte(head+tt.yaml), comps)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseWith(%q) =\n %v\nwant\n %s", tt.yaml, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ParseWith(%q): %v", tt.yaml, err)
		}
		if got := *f.Collector.Sinks["console"].Config.(*Config); got != tt.want {
			t.Errorf("ParseWith(%q): %+v, want %+v", tt.yaml, got, tt.want)
		}
	}
}
