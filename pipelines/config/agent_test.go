package config

import (
	"strings"
	"testing"
	"time"
)

// designExample is the example config of DESIGN.md, verbatim.
const designExample = `
broker:
  listen: 127.0.0.1:7600
  http_listen: 127.0.0.1:7601
  data_dir: ./data/broker
  flush: sync                 # sync | async
  retention: {max_age: 72h, max_size: 50GiB}
  auto_create_topics: true
  default_queues: 8
agent:
  broker: 127.0.0.1:7600
  http_listen: 127.0.0.1:7610
  spool: {dir: ./data/agent, max_size: 1GiB, when_full: block}   # block | drop_oldest
  sources:
    app:   {type: file, include: ["/var/log/app/*.log"], topic: logs}
    node:  {type: host_metrics, interval: 15s, topic: metrics}
    scrape: {type: prometheus_scrape, job: node, targets: ["127.0.0.1:9100"], metrics_path: /metrics,
             interval: 15s, topic: metrics}
    prom_in: {type: prometheus_remote_write, listen: 127.0.0.1:9201, topic: metrics}   # receivers
    syslog_in: {type: syslog, listen: 127.0.0.1:5514, protocol: udp, topic: logs}     # udp | tcp
    http_in: {type: http, listen: 127.0.0.1:8088, topic: logs}                        # NDJSON POST
collector:
  broker: 127.0.0.1:7600
  http_listen: 127.0.0.1:7620
  group: collectors
  pipelines:
    logs:
      from: {topic: logs}
      processors:
        - parse_json: {}
      to: [archive]
    metrics:
      from: {topic: metrics}
      to: [vm]
  sinks:
    archive: {type: file, path: "./out/logs-%Y-%m-%d.log", encoding: json}  # json | text (message only)
    vm: {type: prometheus_remote_write, url: "http://127.0.0.1:8428/api/v1/write"}
    bridge: {type: kafka, brokers: ["127.0.0.1:9092"], topic: logs}
`

func TestDesignExampleParses(t *testing.T) {
	f, err := Parse("design.yaml", []byte(designExample))
	if err != nil {
		t.Fatal(err)
	}
	a := f.Agent
	if len(a.Sources) != 6 || a.Spool.MaxSize != 1<<30 || a.Sources["node"].Interval.D() != 15*time.Second ||
		a.Sources["scrape"].Targets[0] != "127.0.0.1:9100" || a.Sources["syslog_in"].Protocol != "udp" {
		t.Fatalf("parsed %+v", a)
	}
}

func TestRelabelConfigs(t *testing.T) {
	src := `
agent:
  sources:
    s:
      type: prometheus_scrape
      topic: metrics
      targets: [a:1]
      relabel_configs:
        - source_labels: [__address__]
          regex: "(.*):1"
          target_label: host
      metric_relabel_configs:
        - action: drop
          source_labels: [__name__]
          regex: go_.*
`
	f, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Agent.Sources["s"]
	if len(s.RelabelConfigs) != 1 || s.RelabelConfigs[0].TargetLabel != "host" || string(s.MetricRelabelConfigs[0].Action) != "drop" {
		t.Fatalf("relabel configs %+v %+v", s.RelabelConfigs[0], s.MetricRelabelConfigs[0])
	}
}

func TestMemoryTarget(t *testing.T) {
	for src, want := range map[string]int64{
		"agent: {}\n":                     DefaultMemoryTarget,
		"agent: {memory_target: 0}\n":     0,
		"agent: {memory_target: 48MiB}\n": 48 << 20,
	} {
		f, err := Parse("m.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if got := f.Agent.MemoryTargetBytes(); got != want {
			t.Errorf("%q: memory target %d, want %d", src, got, want)
		}
	}
}

func TestAgentErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown type", "agent:\n  sources:\n    x: {type: tail, topic: t}\n",
			`a.yaml:3:15: source x: type "tail" is not one of file, host_metrics, http, prometheus_remote_write, prometheus_scrape, syslog`},
		{"key of another type", "agent:\n  sources:\n    x: {type: syslog, topic: t, listen: 127.0.0.1:1, include: [a]}\n",
			`a.yaml:3:63: source x: include is not an option of syslog sources (they take: listen, protocol)`},
		{"unknown key", "agent:\n  sources:\n    x: {type: file, topic: t, include: [a], inclde: [b]}\n",
			`a.yaml:3:45: unknown key "inclde" in agent.sources.x`},
		{"bad multiline regexp", "agent:\n  sources:\n    x:\n      type: file\n      topic: t\n      include: [a]\n      multiline: {start_pattern: \"([\"}\n",
			`a.yaml:7:34: source x: start_pattern: error parsing regexp`},
		{"bad relabel", "agent:\n  sources:\n    x:\n      type: prometheus_scrape\n      topic: t\n      targets: [a:1]\n      relabel_configs:\n        - action: explode\n",
			`a.yaml:8:11: agent.sources.x.relabel_configs[0]: unknown relabel action "explode"`},
		{"timeout over interval", "agent:\n  sources:\n    x: {type: prometheus_scrape, topic: t, targets: [a:1], interval: 1s, timeout: 2s}\n",
			`a.yaml:3:83: source x: timeout 2s is longer than interval 1s`},
		{"when_full", "agent:\n  spool: {when_full: maybe}\n",
			`a.yaml:2:22: when_full: "maybe" is not block or drop_oldest`},
		{"kafka without brokers", "agent:\n  output: kafka\n",
			`a.yaml:2:11: output: kafka needs kafka.brokers`},
		{"bad memory target", "agent:\n  memory_target: lots\n",
			`a.yaml:2:18: agent.memory_target: invalid size "lots" (want e.g. 512, 64KiB, 64MiB, 50GiB)`},
		{"bad topic", "agent:\n  sources:\n    x: {type: http, listen: 127.0.0.1:1, topic: \"a b\"}\n",
			`a.yaml:3:49: source x: topic "a b": want 1-200 of A-Z a-z 0-9 . _ -`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("a.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}
