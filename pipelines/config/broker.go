package config

import (
	"fmt"
	"net"
)

// Broker is the broker: section. Zero values take the defaults that
// `sluice broker` documents in its help and that DESIGN.md lists.
type Broker struct {
	Listen           string    `yaml:"listen"`
	HTTPListen       string    `yaml:"http_listen"`
	DataDir          string    `yaml:"data_dir"`
	Flush            string    `yaml:"flush"`
	FlushInterval    Duration  `yaml:"flush_interval"`
	Retention        Retention `yaml:"retention"`
	AutoCreateTopics *bool     `yaml:"auto_create_topics"`
	DefaultQueues    int       `yaml:"default_queues"`
	DiskFullRatio    float64   `yaml:"disk_full_ratio"`
	SessionTimeout   Duration  `yaml:"session_timeout"`
	MaxFrame         Size      `yaml:"max_frame"`
	MaxInflight      Size      `yaml:"max_inflight"`
}

// Retention is how long and how much of the log the broker keeps.
type Retention struct {
	MaxAge  Duration `yaml:"max_age"`
	MaxSize Size     `yaml:"max_size"`
}

// Validate checks the values of the section at path.
func (b *Broker) Validate(path string) []FieldError {
	var errs []FieldError
	bad := func(key, format string, args ...any) {
		errs = append(errs, FieldError{join(path, key), key + ": " + fmt.Sprintf(format, args...)})
	}
	for key, addr := range map[string]string{"listen": b.Listen, "http_listen": b.HTTPListen} {
		if addr == "" || key == "http_listen" && addr == "off" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "%q is not host:port", addr)
		}
	}
	if b.Flush != "" && b.Flush != "sync" && b.Flush != "async" {
		bad("flush", "%q is not sync or async", b.Flush)
	}
	if b.FlushInterval < 0 {
		bad("flush_interval", "must not be negative")
	}
	if b.DefaultQueues < 0 || b.DefaultQueues > 1024 {
		bad("default_queues", "%d is not between 1 and 1024", b.DefaultQueues)
	}
	if b.DiskFullRatio < 0 || b.DiskFullRatio > 1 {
		bad("disk_full_ratio", "%g is not between 0 and 1", b.DiskFullRatio)
	}
	if b.SessionTimeout < 0 {
		bad("session_timeout", "must not be negative")
	}
	if b.MaxFrame != 0 && b.MaxFrame < 1<<20 {
		bad("max_frame", "%d bytes is below the minimum of 1MiB", b.MaxFrame)
	}
	return errs
}
