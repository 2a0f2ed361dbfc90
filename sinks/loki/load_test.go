package loki

import (
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// The sink's keys as the collector's config loader reads them.
func TestConfigFromYAML(t *testing.T) {
	comps := &config.Components{Sinks: map[string]func() any{"loki": func() any { return &Config{} }}}
	const head = "collector:\n  pipelines:\n    logs: {from: {topic: logs}, to: [lk]}\n  sinks:\n    lk:\n      type: loki\n"
	good := head + `      url: http://127.0.0.1:3100
      labels: {app: "{{ service }}", host: "{{ meta.host }}"}
      structured_metadata: {trace_id: "{{ trace.id }}"}
      tenant_id: team-a
      encoding: json
      compression: gzip
      batch_bytes: 64KiB
      retry: {initial_backoff: 50ms, max_elapsed: 10s}
      basic_auth: {username: u, password: p}
      headers: {X-A: b}
      timeout: 5s
`
	f, err := config.ParseWith("c.yaml", []byte(good), comps)
	if err != nil {
		t.Fatalf("ParseWith: %v", err)
	}
	got := *f.Collector.Sinks["lk"].Config.(*Config)
	want := Config{
		URL:                "http://127.0.0.1:3100",
		Labels:             map[string]string{"app": "{{ service }}", "host": "{{ meta.host }}"},
		StructuredMetadata: map[string]string{"trace_id": "{{ trace.id }}"},
		TenantID:           "team-a", Encoding: "json",
		Batching: httpclient.Batching{Compression: "gzip", BatchBytes: 64 << 10,
			Retry: config.Retry{InitialBackoff: config.Duration(50 * time.Millisecond), MaxElapsed: config.Duration(10 * time.Second)},
			HTTPClient: config.HTTPClient{BasicAuth: &config.BasicAuth{Username: "u", Password: "p"},
				Headers: map[string]string{"X-A": "b"}, Timeout: config.Duration(5 * time.Second)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Config:\n got %+v\nwant %+v", got, want)
	}

	tests := []struct{ yaml, want string }{
		{"      url: http://l\n      lables: {a: b}\n", `c.yaml:8:7: unknown key "lables" in collector.sinks.lk (known: basic_auth, batch_bytes, bearer_token, bearer_token_file, compression, dlq_topic, encoding, headers, labels, on_failure, retry, structured_metadata, tenant_id, timeout, tls, type, url)`},
		{"      url: http://l\n      labels: {1x: b}\n", `c.yaml:8:20: collector.sinks.lk.labels.1x: "1x" is not a valid label name: want a letter or _ then letters, digits or _`},
		{"      url: http://l\n      batch_bytes: lots\n", `c.yaml:8:20: collector.sinks.lk.batch_bytes: invalid size "lots" (want e.g. 512, 64KiB, 64MiB, 50GiB)`},
	}
	for _, tt := range tests {
		_, err := config.ParseWith("c.yaml", []byte(head+tt.yaml), comps)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseWith(%q) = %v, want %q", tt.yaml, err, tt.want)
		}
	}
}
