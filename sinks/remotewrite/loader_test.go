package remotewrite

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pipelines/config"
)

// TestLoader checks the Config against the config loader: its keys
// (with the inlined HTTP client ones) are known, wrong keys and types
// are reported at their line, and Validate's errors at the key's.
func TestLoader(t *testing.T) {
	comps := &config.Components{Sinks: map[string]func() any{"prometheus_remote_write": func() any { return &Config{} }}}
	good := `collector:
  pipelines:
    metrics:
      from: {topic: metrics}
      to: [vm]
  sinks:
    vm:
      type: prometheus_remote_write
      url: http://127.0.0.1:8428/api/v1/write
      protocol: v2
      shards: 2
      max_samples_per_request: 100
      retry: {initial_backoff: 1s, max_backoff: 2s, max_elapsed: 1m}
      headers: {X-Scope-OrgID: a}
      bearer_token: t
      timeout: 5s
`
	f, err := config.ParseWith("good.yaml", []byte(good), comps)
	if err != nil {
		t.Fatalf("good config: %v", err)
	}
	cfg, ok := f.Collector.Sinks["vm"].Config.(*Config)
	if !ok || cfg.Protocol != "v2" || cfg.Shards != 2 || cfg.HTTPClient.BearerToken != "t" || cfg.Timeout.D().Seconds() != 5 ||
		cfg.Retry.MaxBackoff.D().Seconds() != 2 || cfg.Headers["X-Scope-OrgID"] != "a" {
		t.Errorf("decoded config %+v", f.Collector.Sinks["vm"].Config)
	}
	bad := `collector:
  pipelines:
    metrics:
      from: {topic: metrics}
      to: [vm]
  sinks:
    vm:
      type: prometheus_remote_write
      url: ftp://x
      shards: many
      max_sample_per_request: 100
`
	_, err = config.ParseWith("bad.yaml", []byte(bad), comps)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	want := `bad.yaml:10:15: collector.sinks.vm.shards: want an integer, got "many"` + "\n" +
		`bad.yaml:11:7: unknown key "max_sample_per_request" in collector.sinks.vm (known: basic_auth, bearer_token, bearer_token_file, ` +
		`dlq_topic, headers, max_samples_per_request, on_failure, protocol, retry, shards, timeout, tls, type, url)`
	if err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
	invalid := strings.Replace(strings.Replace(bad, "shards: many", "shards: 2", 1), "max_sample_per_request", "max_samples_per_request", 1)
	_, err = config.ParseWith("invalid.yaml", []byte(invalid), comps)
	if want := `invalid.yaml:9:12: collector.sinks.vm.url: "ftp://x" is not an http or https URL`; err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}
