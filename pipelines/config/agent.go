package config

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/relabel"
)

// Agent is the agent: section.
type Agent struct {
	Broker     string            `yaml:"broker"`
	HTTPListen string            `yaml:"http_listen"`
	Output     string            `yaml:"output"` // broker (default) | kafka
	Kafka      *KafkaOutput      `yaml:"kafka"`
	Spool      AgentSpool        `yaml:"spool"`
	Sources    map[string]Source `yaml:"sources"`
	// MemoryTarget is the memory `sluice agent` prefers to stay under:
	// the Go GC works harder to keep it there while the live data leaves
	// room (see internal/memlimit). Unset: DefaultMemoryTarget; 0: off,
	// the GC runs at GOGC alone. GOMEMLIMIT, when set, overrides it.
	MemoryTarget *Size `yaml:"memory_target"`
}

// DefaultMemoryTarget is the agent's memory target when none is set.
const DefaultMemoryTarget = 24 << 20

// MemoryTargetBytes is MemoryTarget with its default applied.
func (a *Agent) MemoryTargetBytes() int64 {
	if a.MemoryTarget == nil {
		return DefaultMemoryTarget
	}
	return int64(*a.MemoryTarget)
}

// KafkaOutput is where `output: kafka` sends.
type KafkaOutput struct {
	Brokers []string `yaml:"brokers"`
	// Topic, if set, replaces every source's topic.
	Topic string `yaml:"topic"`
}

// AgentSpool is the agent's disk queue.
type AgentSpool struct {
	Dir      string `yaml:"dir"`
	MaxSize  Size   `yaml:"max_size"`
	WhenFull string `yaml:"when_full"` // block (default) | drop_oldest
}

// Multiline groups lines into events.
type Multiline struct {
	StartPattern        string   `yaml:"start_pattern"`
	ContinuationPattern string   `yaml:"continuation_pattern"`
	MaxLines            int      `yaml:"max_lines"`
	FlushTimeout        Duration `yaml:"flush_timeout"`
}

// Source is one entry of agent.sources. Which keys apply depends on type;
// Validate refuses keys of other types.
type Source struct {
	Type   string            `yaml:"type"`
	Topic  string            `yaml:"topic"`
	Key    string            `yaml:"key"`
	Fields map[string]string `yaml:"fields"`

	// file
	Include      []string   `yaml:"include"`
	Exclude      []string   `yaml:"exclude"`
	StartAt      string     `yaml:"start_at"`
	Multiline    *Multiline `yaml:"multiline"`
	MaxLineBytes Size       `yaml:"max_line_bytes"`

	// prometheus_scrape and host_metrics
	Job                  string            `yaml:"job"`
	Targets              []string          `yaml:"targets"`
	FileSD               []string          `yaml:"file_sd"`
	MetricsPath          string            `yaml:"metrics_path"`
	Scheme               string            `yaml:"scheme"`
	Interval             Duration          `yaml:"interval"`
	Timeout              Duration          `yaml:"timeout"`
	HonorLabels          bool              `yaml:"honor_labels"`
	RelabelConfigs       []*relabel.Config `yaml:"relabel_configs"`
	MetricRelabelConfigs []*relabel.Config `yaml:"metric_relabel_configs"`
	Collectors           []string          `yaml:"collectors"`

	// receivers
	Listen   string `yaml:"listen"`
	Protocol string `yaml:"protocol"`
}

// SourceTypes lists the source types and the keys each accepts besides
// type, topic, key and fields.
var SourceTypes = map[string][]string{
	"file":                    {"include", "exclude", "start_at", "multiline", "max_line_bytes"},
	"prometheus_scrape":       {"job", "targets", "file_sd", "metrics_path", "scheme", "interval", "timeout", "honor_labels", "relabel_configs", "metric_relabel_configs"},
	"host_metrics":            {"job", "interval", "collectors"},
	"prometheus_remote_write": {"listen"},
	"http":                    {"listen"},
	"syslog":                  {"listen", "protocol"},
}

// setKeys returns the type-specific keys set in s.
func (s *Source) setKeys() []string {
	set := map[string]bool{
		"include": len(s.Include) > 0, "exclude": len(s.Exclude) > 0, "start_at": s.StartAt != "",
		"multiline": s.Multiline != nil, "max_line_bytes": s.MaxLineBytes != 0, "job": s.Job != "",
		"targets": len(s.Targets) > 0, "file_sd": len(s.FileSD) > 0, "metrics_path": s.MetricsPath != "",
		"scheme": s.Scheme != "", "interval": s.Interval != 0, "timeout": s.Timeout != 0,
		"honor_labels": s.HonorLabels, "relabel_configs": len(s.RelabelConfigs) > 0,
		"metric_relabel_configs": len(s.MetricRelabelConfigs) > 0, "collectors": len(s.Collectors) > 0,
		"listen": s.Listen != "", "protocol": s.Protocol != "",
	}
	var keys []string
	for k, v := range set {
		if v {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

var topicRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// Validate checks the section at path.
func (a *Agent) Validate(path string) []FieldError {
	var errs []FieldError
	bad := func(p, format string, args ...any) {
		errs = append(errs, FieldError{join(path, p), fmt.Sprintf(format, args...)})
	}
	for key, addr := range map[string]string{"broker": a.Broker, "http_listen": a.HTTPListen} {
		if addr != "" && !(key == "http_listen" && addr == "off") {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				bad(key, "%s: %q is not host:port", key, addr)
			}
		}
	}
	switch a.Output {
	case "", "broker":
	case "kafka":
		if a.Kafka == nil || len(a.Kafka.Brokers) == 0 {
			bad("output", "output: kafka needs kafka.brokers")
		}
	default:
		bad("output", "output: %q is not broker or kafka", a.Output)
	}
	if w := a.Spool.WhenFull; w != "" && w != "block" && w != "drop_oldest" {
		bad("spool.when_full", "when_full: %q is not block or drop_oldest", w)
	}
	names := make([]string, 0, len(a.Sources))
	for n := range a.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := a.Sources[n]
		errs = append(errs, s.validate(join(path, "sources."+n), n)...)
	}
	return errs
}

func (s *Source) validate(path, name string) []FieldError {
	var errs []FieldError
	bad := func(p, format string, args ...any) {
		errs = append(errs, FieldError{join(path, p), fmt.Sprintf(format, args...)})
	}
	keys, ok := SourceTypes[s.Type]
	if !ok {
		types := make([]string, 0, len(SourceTypes))
		for t := range SourceTypes {
			types = append(types, t)
		}
		sort.Strings(types)
		bad("type", "source %s: type %q is not one of %s", name, s.Type, strings.Join(types, ", "))
		return errs
	}
	if !topicRe.MatchString(s.Topic) {
		bad("topic", "source %s: topic %q: want 1-200 of A-Z a-z 0-9 . _ -", name, s.Topic)
	}
	allowed := map[string]bool{}
	for _, k := range keys {
		allowed[k] = true
	}
	for _, k := range s.setKeys() {
		if !allowed[k] {
			bad(k, "source %s: %s is not an option of %s sources (they take: %s)", name, k, s.Type, strings.Join(keys, ", "))
		}
	}
	switch s.Type {
	case "file":
		if len(s.Include) == 0 {
			bad("include", "source %s: a file source needs include globs", name)
		}
		if s.StartAt != "" && s.StartAt != "beginning" && s.StartAt != "end" {
			bad("start_at", "source %s: start_at %q is not beginning or end", name, s.StartAt)
		}
		if m := s.Multiline; m != nil {
			errs = append(errs, m.validate(join(path, "multiline"), name)...)
		}
	case "prometheus_scrape":
		if len(s.Targets) == 0 && len(s.FileSD) == 0 {
			bad("targets", "source %s: a scrape source needs targets or file_sd", name)
		}
		if s.Timeout > 0 && s.Interval > 0 && s.Timeout > s.Interval {
			bad("timeout", "source %s: timeout %v is longer than interval %v", name, s.Timeout.D(), s.Interval.D())
		}
	case "prometheus_remote_write", "http", "syslog":
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			bad("listen", "source %s: listen %q is not host:port", name, s.Listen)
		}
		if s.Type == "syslog" && s.Protocol != "" && s.Protocol != "udp" && s.Protocol != "tcp" {
			bad("protocol", "source %s: protocol %q is not udp or tcp", name, s.Protocol)
		}
	}
	return errs
}

func (m *Multiline) validate(path, name string) []FieldError {
	var errs []FieldError
	if (m.StartPattern == "") == (m.ContinuationPattern == "") {
		errs = append(errs, FieldError{path, fmt.Sprintf("source %s: multiline needs one of start_pattern or continuation_pattern", name)})
	}
	for key, p := range map[string]string{"start_pattern": m.StartPattern, "continuation_pattern": m.ContinuationPattern} {
		if _, err := regexp.Compile(p); err != nil {
			errs = append(errs, FieldError{join(path, key), fmt.Sprintf("source %s: %s: %v", name, key, err)})
		}
	}
	if m.MaxLines < 0 {
		errs = append(errs, FieldError{join(path, "max_lines"), fmt.Sprintf("source %s: max_lines %d is negative", name, m.MaxLines)})
	}
	return errs
}
