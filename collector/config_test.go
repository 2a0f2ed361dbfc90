package collector

import (
	"testing"

	"github.com/sluicehq/sluice/pipelines/config"
)

// TestConfigErrors checks the collector section against the test
// components: each bad config with the exact error it must produce.
func TestConfigErrors(t *testing.T) {
	reg, _ := testRegistry()
	head := "collector:\n  pipelines:\n    logs:\n      from: {topic: logs}\n"
	tests := []struct{ name, src, want string }{
		{"unknown processor", head + "      processors: [{uppr: {}}]\n      to: [a]\n  sinks: {a: {type: mem}}\n",
			`c.yaml:5:21: collector.pipelines.logs.processors[0]: unknown processor type "uppr" (known: upper)`},
		{"processor with two keys", head + "      processors: [{upper: {}, other: {}}]\n      to: [a]\n  sinks: {a: {type: mem}}\n",
			`c.yaml:5:20: collector.pipelines.logs.processors[0]: want a mapping with one key, the processor type (one of upper)`},
		{"unknown key in a processor", head + "      processors: [{upper: {feld: x}}]\n      to: [a]\n  sinks: {a: {type: mem}}\n",
			`c.yaml:5:29: unknown key "feld" in collector.pipelines.logs.processors[0].upper (known: field, route_if, route_to)`},
		{"wrong type in a processor", head + "      processors: [{upper: {route_to: x}}]\n      to: [a]\n  sinks: {a: {type: mem}}\n",
			`c.yaml:5:39: collector.pipelines.logs.processors[0].upper.route_to: want a list, got "x"`},
		{"route to an undefined sink", head + "      processors: [{upper: {route_to: [b]}}]\n      to: [a]\n  sinks: {a: {type: mem}}\n",
			`c.yaml:5:39: sink "b" is not defined in collector.sinks`},
		{"unknown sink type", head + "      to: [a]\n  sinks: {a: {type: memory}}\n",
			`c.yaml:6:21: collector.sinks.a: type "memory" is not a sink type (known: mem)`},
		{"unknown sink key", head + "      to: [a]\n  sinks: {a: {type: mem, fail: 1}}\n",
			`c.yaml:6:26: unknown key "fail" in collector.sinks.a (known: build_error, dlq_topic, fail_always, fail_first, on_failure, type)`},
		{"sink Validate", head + "      to: [a]\n  sinks:\n    a: {type: mem, fail_first: -1}\n",
			`c.yaml:7:32: collector.sinks.a.fail_first: must not be negative, got -1`},
		{"bad on_failure", head + "      to: [a]\n  sinks: {a: {type: mem, on_failure: skip}}\n",
			`c.yaml:6:38: on_failure: "skip" is not retry, dlq or drop`},
		{"undefined sink in to", head + "      to: [a, b]\n  sinks: {a: {type: mem}}\n",
			`c.yaml:5:15: pipeline logs: sink "b" is not defined in collector.sinks`},
		{"no sinks at all", head + "  sinks: {a: {type: mem}}\n",
			`c.yaml:4:7: pipeline logs: to: name at least one sink`},
		{"two pipelines split a topic", head + "      to: [a]\n    again: {from: {topic: logs}, to: [a]}\n  sinks: {a: {type: mem}}\n",
			`c.yaml:4:13: pipelines again and logs both read topic logs in group "collectors": they would split its messages; give one of them from.group`},
		{"bad topic", "collector:\n  pipelines: {p: {from: {topic: 'a b'}, to: [a]}}\n  sinks: {a: {type: mem}}\n",
			`c.yaml:2:33: pipeline p: topic "a b": want 1-200 of A-Z a-z 0-9 . _ -`},
		{"no pipelines", "collector:\n  sinks: {a: {type: mem}}\n",
			`c.yaml:2:3: a collector needs at least one pipeline`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseWith("c.yaml", []byte(tt.src), reg.schema())
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}
