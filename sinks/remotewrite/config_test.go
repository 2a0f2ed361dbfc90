package remotewrite

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

func TestValidate(t *testing.T) {
	const u = "http://127.0.0.1:8428/api/v1/write"
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"minimal", Config{URL: u}, ""},
		{"everything", Config{URL: "https://vm:8443/api/v1/write", Protocol: "v2", Shards: 16, MaxSamplesPerRequest: 500,
			Retry:      config.Retry{InitialBackoff: config.Duration(time.Second), MaxBackoff: config.Duration(time.Minute)},
			HTTPClient: config.HTTPClient{BearerToken: "t", Timeout: config.Duration(time.Second)}}, ""},
		{"no url", Config{}, "url: is required: the receiver's endpoint, e.g. http://127.0.0.1:8428/api/v1/write"},
		{"ftp url", Config{URL: "ftp://host/x"}, `url: "ftp://host/x" is not an http or https URL`},
		{"no host", Config{URL: "http:///x"}, `url: "http:///x" is not an http or https URL`},
		{"not a url", Config{URL: "127.0.0.1:8428"}, `url: "127.0.0.1:8428" is not an http or https URL`},
		{"protocol", Config{URL: u, Protocol: "v3"}, `protocol: "v3" is not a remote write protocol: want v1 or v2`},
		{"negative shards", Config{URL: u, Shards: -1}, "shards: -1 is out of range: want 1 to 1024 (0 for the default, 4)"},
		{"too many shards", Config{URL: u, Shards: 5000}, "shards: 5000 is out of range: want 1 to 1024 (0 for the default, 4)"},
		{"negative max samples", Config{URL: u, MaxSamplesPerRequest: -5},
			"max_samples_per_request: -5 is negative: want a positive number (0 for the default, 2000)"},
		{"negative backoff", Config{URL: u, Retry: config.Retry{MaxElapsed: config.Duration(-time.Second)}},
			"retry.max_elapsed: -1s is negative: want a positive duration (0 for the default)"},
		{"initial above max", Config{URL: u, Retry: config.Retry{InitialBackoff: config.Duration(time.Minute), MaxBackoff: config.Duration(time.Second)}},
			"retry.initial_backoff: 1m0s is more than retry.max_backoff (1s)"},
		{"two tokens", Config{URL: u, HTTPClient: config.HTTPClient{BearerToken: "a", BearerTokenFile: "/f"}},
			"bearer_token: set bearer_token or bearer_token_file, not both"},
		{"several at once", Config{URL: "x", Protocol: "1", Shards: -2},
			`url: "x" is not an http or https URL` + "\n" + `protocol: "1" is not a remote write protocol: want v1 or v2` + "\n" +
				"shards: -2 is out of range: want 1 to 1024 (0 for the default, 4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidatePaths(t *testing.T) {
	cfg := Config{URL: "x", MaxSamplesPerRequest: -1, HTTPClient: config.HTTPClient{BasicAuth: &config.BasicAuth{}}}
	var paths []string
	for _, fe := range component.FieldErrors(cfg.Validate()) {
		paths = append(paths, fe.Path)
	}
	if got, want := strings.Join(paths, ","), "url,max_samples_per_request,basic_auth.username"; got != want {
		t.Errorf("paths = %s, want %s", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	set := component.Settings{Name: "vm", Logger: slog.New(slog.DiscardHandler), Metrics: metrics.NewSet()}
	if _, err := New(Config{}, set); err == nil || err.Error() != "prometheus_remote_write sink vm: url: is required: the receiver's endpoint, e.g. http://127.0.0.1:8428/api/v1/write" {
		t.Errorf("New without url: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "token")
	_, err := New(Config{URL: "http://h/w", HTTPClient: config.HTTPClient{BearerTokenFile: missing}}, set)
	if err == nil || !strings.HasPrefix(err.Error(), "prometheus_remote_write sink vm: read bearer_token_file: ") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New with a missing token file: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	c := Config{URL: "http://h/w"}.withDefaults()
	if c.Protocol != "v1" || c.Shards != 4 || c.MaxSamplesPerRequest != 2000 || c.Retry.InitialBackoff.D() != 100*time.Millisecond ||
		c.Retry.MaxBackoff.D() != 30*time.Second || c.Retry.MaxElapsed.D() != time.Minute {
		t.Errorf("defaults: %+v", c)
	}
}

// TestConfigFiles decodes each testdata/config file strictly and checks
// Validate against the file's "# want:" line.
func TestConfigFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no config files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("first line %q is not # want: ...", first)
			}
			var cfg Config
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&cfg); err != nil {
				t.Fatal(err)
			}
			got := "ok"
			if err := cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != want {
				t.Errorf("Validate() = %q, want %q", got, want)
			}
		})
	}
}
