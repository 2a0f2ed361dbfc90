package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "15s", "72h" or "7d".
type Duration time.Duration

// UnmarshalYAML parses a duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ParseDuration parses a Go duration, also accepting a whole number of
// days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err == nil && n >= 0 && n <= math.MaxInt64/int64(24*time.Hour) {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 500ms, 15s, 72h, 7d)", s)
	}
	return d, nil
}

// Size is a number of bytes written as "512", "64KiB", "64MiB" or "1GB".
type Size int64

// UnmarshalYAML parses a size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*s = Size(v)
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseSize parses a size in bytes with an optional unit.
func ParseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || n*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 512, 64KiB, 64MiB, 50GiB)", s)
	}
	return int64(n * float64(mult)), nil
}

// Retry is how a sink retries a failed request before giving the batch
// back to the collector's on_failure policy: exponential back-off with
// jitter from InitialBackoff (default 100ms) up to MaxBackoff (default
// 30s), for at most MaxElapsed (default 1m; the collector then retries
// the whole batch again if on_failure is retry, so nothing is lost).
type Retry struct {
	InitialBackoff Duration `yaml:"initial_backoff"`
	MaxBackoff     Duration `yaml:"max_backoff"`
	MaxElapsed     Duration `yaml:"max_elapsed"`
}

// WithDefaults returns r with every zero field at its default.
func (r Retry) WithDefaults() Retry {
	if r.InitialBackoff <= 0 {
		r.InitialBackoff = Duration(100 * time.Millisecond)
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = Duration(30 * time.Second)
	}
	if r.MaxElapsed <= 0 {
		r.MaxElapsed = Duration(time.Minute)
	}
	return r
}

// TLS is the client TLS settings of a sink.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// BasicAuth is HTTP basic authentication; Password or PasswordFile.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// HTTPClient is the settings of a sink that sends over HTTP, inlined in
// its Config so the keys sit beside the sink's own.
type HTTPClient struct {
	// Headers are added to every request.
	Headers   map[string]string `yaml:"headers"`
	BasicAuth *BasicAuth        `yaml:"basic_auth"`
	// BearerToken or BearerTokenFile (read at start) sets Authorization.
	BearerToken     string `yaml:"bearer_token"`
	BearerTokenFile string `yaml:"bearer_token_file"`
	TLS             *TLS   `yaml:"tls"`
	// Timeout bounds one request. Default 30s.
	Timeout Duration `yaml:"timeout"`
}
