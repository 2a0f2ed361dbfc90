package kafka

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

func TestValidate(t *testing.T) {
	good := func() Config { return Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "logs"} }
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // "path: message", in order
	}{
		{"minimal", func(*Config) {}, nil},
		{"everything set", func(c *Config) {
			c.Topic, c.Key, c.Encoding, c.Compression = "logs-{{ meta.host }}", "{{ service }}", "text", "zstd"
			c.HeadersFromMeta, c.BatchBytes, c.CreateTopics = boolp(false), 4096, true
			c.Retry = config.Retry{InitialBackoff: 1, MaxBackoff: 2, MaxElapsed: 3}
			c.TLS = &config.TLS{CertFile: "c", KeyFile: "k"}
		}, nil},
		{"no brokers, no topic", func(c *Config) { c.Brokers, c.Topic = nil, "" }, []string{
			"brokers: at least one broker address (host:port) is required",
			`topic: a topic (or a template such as "logs-{{ meta.host }}") is required`,
		}},
		{"bad broker", func(c *Config) { c.Brokers = []string{"127.0.0.1:9092", "kafka"} }, []string{
			`brokers[1]: "kafka" is not a host:port address`,
		}},
		{"bad literal topic", func(c *Config) { c.Topic = "logs/app" }, []string{
			`topic: "logs/app" is not a valid Kafka topic name (want letters, digits, '.', '_' and '-')`,
		}},
		{"reserved topic", func(c *Config) { c.Topic = ".." }, []string{
			`topic: ".." is not a valid Kafka topic name ("." and ".." are reserved)`,
		}},
		{"long topic", func(c *Config) { c.Topic = strings.Repeat("a", 250) }, []string{
			`topic: "` + strings.Repeat("a", 250) + `" is longer than Kafka's 249 characters for a topic name`,
		}},
		{"unclosed template", func(c *Config) { c.Topic = "logs-{{ meta.host" }, []string{
			`topic: "logs-{{ meta.host" has a {{ with no }} after it`,
		}},
		{"empty reference in key", func(c *Config) { c.Key = "{{ }}" }, []string{
			`key: "{{ }}": empty {{ }}: want {{ field.path }} or {{ meta.key }}`,
		}},
		{"encoding and compression", func(c *Config) { c.Encoding, c.Compression = "raw", "brotli" }, []string{
			`encoding: "raw" is not an encoding (want json or text)`,
			`compression: "brotli" is not a compression (want lz4, none, snappy, zstd or gzip)`,
		}},
		{"batch_bytes negative", func(c *Config) { c.BatchBytes = -1 }, []string{"batch_bytes: must not be negative"}},
		{"batch_bytes tiny", func(c *Config) { c.BatchBytes = 100 }, []string{
			"batch_bytes: 100 bytes is too small for a message (want at least 1KiB)",
		}},
		{"retry", func(c *Config) {
			c.Retry = config.Retry{InitialBackoff: config.Duration(2e9), MaxBackoff: config.Duration(1e9), MaxElapsed: -1}
		}, []string{
			"retry.max_elapsed: must not be negative",
			"retry.initial_backoff: 2s is more than max_backoff 1s",
		}},
		{"tls half a pair", func(c *Config) { c.TLS = &config.TLS{CertFile: "c"} }, []string{
			"tls: cert_file and key_file go together",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.modify(&c)
			var got []string
			for _, fe := range component.FieldErrors(c.Validate()) {
				got = append(got, fe.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("Validate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Encoding != "json" || c.Compression != "lz4" || c.BatchBytes != 1<<20 || !*c.HeadersFromMeta ||
		c.CreateTopics || c.Retry != (config.Retry{}).WithDefaults() {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestNewRejects(t *testing.T) {
	_, err := New(Config{Topic: "logs"}, settings())
	if err == nil || err.Error() != "kafka sink bridge: brokers: at least one broker address (host:port) is required" {
		t.Fatalf("New: %v", err)
	}
	_, err = New(Config{Brokers: []string{"h:1"}, Topic: "logs", TLS: &config.TLS{CAFile: t.TempDir() + "/missing.pem"}}, settings())
	if err == nil || !strings.HasPrefix(err.Error(), "kafka sink bridge: read tls.ca_file: open ") {
		t.Fatalf("New with a missing CA file: %v", err)
	}
}
