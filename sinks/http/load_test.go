package http

import (
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

// The sink's keys as the collector's config loader reads them.
func TestConfigFromYAML(t *testing.T) {
	comps := &config.Components{Sinks: map[string]func() any{"http": func() any { return &Config{} }}}
	const head = "collector:\n  pipelines:\n    logs: {from: {topic: logs}, to: [out]}\n  sinks:\n    out:\n      type: http\n"
	good := head + `      url: https://logs.example/ingest
      method: PUT
      encoding: json_array
      compression: gzip
      batch_bytes: 256KiB
      retry: {max_backoff: 5s}
      bearer_token: tok
      tls: {insecure_skip_verify: true}
`
	f, err := config.ParseWith("c.yaml", []byte(good), comps)
	if err != nil {
		t.Fatalf("ParseWith: %v", err)
	}
	got := *f.Collector.Sinks["out"].Config.(*Config)
	want := Config{
		URL: "https://logs.example/ingest", Method: "PUT", Encoding: "json_array", Batching: httpclient.Batching{
			Compression: "gzip", BatchBytes: 256 << 10,
			Retry:      config.Retry{MaxBackoff: config.Duration(5 * time.Second)},
			HTTPClient: config.HTTPClient{BearerToken: "tok", TLS: &config.TLS{InsecureSkipVerify: true}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Config:\n got %+v\nwant %+v", got, want)
	}

	tests := []struct{ yaml, want string }{
		{"      url: http://x\n      encodng: ndjson\n", `c.yaml:8:7: unknown key "encodng" in collector.sinks.out (known: basic_auth, batch_bytes, bearer_token, bearer_token_file, compression, dlq_topic, encoding, headers, method, on_failure, retry, timeout, tls, type, url)`},
		{"      url: http://x\n      method: GET\n", `c.yaml:8:15: collector.sinks.out.method: "GET" is not POST or PUT`},
		{"      method: PUT\n", `c.yaml:6:7: collector.sinks.out.url: is required: the http or https URL events are sent to`},
	}
	for _, tt := range tests {
		_, err := config.ParseWith("c.yaml", []byte(head+tt.yaml), comps)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseWith(%q) = %v, want %q", tt.yaml, err, tt.want)
		}
	}
}
