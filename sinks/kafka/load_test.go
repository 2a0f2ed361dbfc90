package kafka

import (
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/config"
)

// The sink's keys as the collector's config loader reads them.
func TestConfigFromYAML(t *testing.T) {
	comps := &config.Components{Sinks: map[string]func() any{"kafka": func() any { return &Config{} }}}
	const head = "collector:\n  pipelines:\n    logs: {from: {topic: logs}, to: [bridge]}\n  sinks:\n    bridge:\n      type: kafka\n"
	good := head + `      brokers: ["127.0.0.1:9092", "kafka-2:9092"]
      topic: "logs-{{ meta.host }}"
      key: "{{ service }}"
      encoding: text
      headers_from_meta: false
      compression: zstd
      batch_bytes: 512KiB
      create_topics: true
      retry: {initial_backoff: 50ms, max_backoff: 2s, max_elapsed: 10s}
      tls: {ca_file: /etc/ca.pem, server_name: kafka}
`
	f, err := config.ParseWith("c.yaml", []byte(good), comps)
	if err != nil {
		t.Fatalf("ParseWith: %v", err)
	}
	got := *f.Collector.Sinks["bridge"].Config.(*Config)
	want := Config{
		Brokers: []string{"127.0.0.1:9092", "kafka-2:9092"}, Topic: "logs-{{ meta.host }}", Key: "{{ service }}",
		Encoding: "text", HeadersFromMeta: boolp(false), Compression: "zstd", BatchBytes: 512 << 10, CreateTopics: true,
		Retry: config.Retry{InitialBackoff: config.Duration(50 * time.Millisecond), MaxBackoff: config.Duration(2 * time.Second),
			MaxElapsed: config.Duration(10 * time.Second)},
		TLS: &config.TLS{CAFile: "/etc/ca.pem", ServerName: "kafka"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Config:\n got %+v\nwant %+v", got, want)
	}

	tests := []struct{ yaml, want string }{
		{"      brokers: [\"h:1\"]\n      topics: logs\n", `c.yaml:8:7: unknown key "topics" in collector.sinks.bridge (known: batch_bytes, brokers, compression, create_topics, dlq_topic, encoding, headers_from_meta, key, on_failure, retry, tls, topic, type)`},
		{"      brokers: h:1\n      topic: logs\n", `c.yaml:7:16: collector.sinks.bridge.brokers: want a list, got "h:1"`},
		{"      brokers: [\"h:1\", \"h2\"]\n      topic: logs\n", `c.yaml:7:24: collector.sinks.bridge.brokers[1]: "h2" is not a host:port address`},
		{"      brokers: [\"h:1\"]\n      topic: \"a b\"\n", `c.yaml:8:14: collector.sinks.bridge.topic: "a b" is not a valid Kafka topic name (want letters, digits, '.', '_' and '-')`},
		{"      brokers: [\"h:1\"]\n      topic: logs\n      headers_from_meta: sure\n", `c.yaml:9:26: collector.sinks.bridge.headers_from_meta: want true or false, got "sure"`},
	}
	for _, tt := range tests {
		_, err := config.ParseWith("c.yaml", []byte(head+tt.yaml), comps)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseWith(%q) =\n %v\nwant\n %s", tt.yaml, err, tt.want)
		}
	}
}
