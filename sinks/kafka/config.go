package kafka

import (
	"errors"
	"github.com/sluicehq/sluice/pipelines/template"
	"net"
	"strconv"

	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

// DefaultBatchBytes is the default batch_bytes: Kafka's default largest
// message (message.max.bytes), so a default producer never builds a
// request a default broker refuses.
const DefaultBatchBytes = 1 << 20

// Config is the kafka sink's configuration. The zero value of every
// optional key is its default.
type Config struct {
	// Brokers are bootstrap addresses, host:port. Required.
	Brokers []string `yaml:"brokers"`
	// Topic is where events go: a literal ("logs") or a template with
	// {{ field.path }} and {{ meta.key }} ("logs-{{ meta.host }}").
	// Required. Characters Kafka refuses in an expanded topic become '_';
	// an event whose topic expands to nothing is dropped and counted in
	// sluice_collector_sink_kafka_dropped_total{reason="empty_topic"}.
	Topic string `yaml:"topic"`
	// Key is the message key, a template as Topic; messages with the same
	// key go to the same partition. Default: no key (round-robin).
	Key string `yaml:"key"`
	// Encoding of log events: json (default: event.AppendJSON) or text
	// (the message field only). Metric events are always JSON.
	Encoding string `yaml:"encoding"`
	// HeadersFromMeta makes every meta key a Kafka header. Default true.
	HeadersFromMeta *bool `yaml:"headers_from_meta"`
	// Compression of record batches: lz4 (default), none, snappy, zstd or
	// gzip.
	Compression string `yaml:"compression"`
	// BatchBytes bounds one produce request to a partition, and so the
	// size of one message. Default 1MiB (DefaultBatchBytes).
	BatchBytes config.Size `yaml:"batch_bytes"`
	// CreateTopics lets Kafka create a topic that does not exist (if the
	// broker allows auto-creation). Default false: writing to a missing
	// topic is retried until max_elapsed, then fails.
	CreateTopics bool `yaml:"create_topics"`
	// Retry is how temporary failures are retried (defaults: 100ms
	// initial back-off, 30s max, 1m in all).
	Retry config.Retry `yaml:"retry"`
	// TLS, when set, connects to the brokers over TLS.
	TLS *config.TLS `yaml:"tls"`
}

// Encodings and compressions a Config may name.
var (
	encodings    = []string{"json", "text"}
	compressions = map[string]kafka.Compression{
		"lz4": kafka.Lz4, "none": 0, "snappy": kafka.Snappy, "zstd": kafka.Zstd, "gzip": kafka.Gzip,
	}
)

// withDefaults returns c with every unset optional key at its default.
func (c Config) withDefaults() Config {
	if c.Encoding == "" {
		c.Encoding = "json"
	}
	if c.Compression == "" {
		c.Compression = "lz4"
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.HeadersFromMeta == nil {
		t := true
		c.HeadersFromMeta = &t
	}
	c.Retry = c.Retry.WithDefaults()
	return c
}

// Validate reports every key that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, component.Errorf("brokers", "at least one broker address (host:port) is required"))
	}
	for i, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, component.Errorf("brokers["+strconv.Itoa(i)+"]", "%q is not a host:port address", b))
		}
	}
	errs = append(errs, validateTopic(c.Topic))
	if _, err := template.Parse(c.Key); err != nil {
		errs = append(errs, component.Errorf("key", "%v", err))
	}
	if c.Encoding != "" && c.Encoding != encodings[0] && c.Encoding != encodings[1] {
		errs = append(errs, component.Errorf("encoding", "%q is not an encoding (want json or text)", c.Encoding))
	}
	if _, ok := compressions[c.Compression]; c.Compression != "" && !ok {
		errs = append(errs, component.Errorf("compression", "%q is not a compression (want lz4, none, snappy, zstd or gzip)", c.Compression))
	}
	if c.BatchBytes < 0 {
		errs = append(errs, component.Errorf("batch_bytes", "must not be negative"))
	} else if c.BatchBytes > 0 && c.BatchBytes < 1024 {
		errs = append(errs, component.Errorf("batch_bytes", "%d bytes is too small for a message (want at least 1KiB)", c.BatchBytes))
	}
	errs = append(errs, validateRetry(c.Retry))
	if t := c.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, component.Errorf("tls", "cert_file and key_file go together"))
	}
	return errors.Join(errs...)
}

func validateTopic(topic string) error {
	if topic == "" {
		return component.Errorf("topic", "a topic (or a template such as \"logs-{{ meta.host }}\") is required")
	}
	t, err := template.Parse(topic)
	if err != nil {
		return component.Errorf("topic", "%v", err)
	}
	if lit, ok := t.Literal(); ok {
		if msg := topicProblem(lit); msg != "" {
			return component.Errorf("topic", "%q %s", lit, msg)
		}
	}
	return nil
}

// topicProblem says what makes name an invalid Kafka topic name, or "".
func topicProblem(name string) string {
	switch {
	case name == "." || name == "..":
		return `is not a valid Kafka topic name ("." and ".." are reserved)`
	case len(name) > maxTopicLen:
		return "is longer than Kafka's 249 characters for a topic name"
	}
	for i := 0; i < len(name); i++ {
		if !topicChar(name[i]) {
			return "is not a valid Kafka topic name (want letters, digits, '.', '_' and '-')"
		}
	}
	return ""
}

func validateRetry(r config.Retry) error {
	var errs []error
	if r.InitialBackoff < 0 {
		errs = append(errs, component.Errorf("retry.initial_backoff", "must not be negative"))
	}
	if r.MaxBackoff < 0 {
		errs = append(errs, component.Errorf("retry.max_backoff", "must not be negative"))
	}
	if r.MaxElapsed < 0 {
		errs = append(errs, component.Errorf("retry.max_elapsed", "must not be negative"))
	}
	if r.InitialBackoff > 0 && r.MaxBackoff > 0 && r.InitialBackoff > r.MaxBackoff {
		errs = append(errs, component.Errorf("retry.initial_backoff", "%s is more than max_backoff %s",
			r.InitialBackoff.D(), r.MaxBackoff.D()))
	}
	return errors.Join(errs...)
}
