package loki

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/httpclient"
)

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", 151)
	tests := []struct {
		name string
		cfg  Config
		want []string // "path: message", in order
	}{
		{name: "minimal", cfg: Config{URL: "http://127.0.0.1:3100"}},
		{name: "full", cfg: Config{
			URL: "https://loki.example/loki/api/v1/push", Labels: map[string]string{"app": "{{ service.name }}", "env": "prod"},
			StructuredMetadata: map[string]string{"trace_id": "{{ trace_id }}"}, TenantID: "team_a-1.(x)", Encoding: "json",
			Batching: httpclient.Batching{Compression: "gzip", BatchBytes: 4096,
				Retry: config.Retry{InitialBackoff: config.Duration(time.Second), MaxBackoff: config.Duration(time.Minute)}},
		}},
		{name: "no url", cfg: Config{}, want: []string{"url: is required: Loki's base URL (http://127.0.0.1:3100) or its push URL"}},
		{name: "bad url", cfg: Config{URL: "127.0.0.1:3100"}, want: []string{`url: "127.0.0.1:3100" is not an http or https URL`}},
		{name: "ftp url", cfg: Config{URL: "ftp://loki"}, want: []string{`url: "ftp://loki" is not an http or https URL`}},
		{name: "bad label name and template", cfg: Config{URL: "http://l", Labels: map[string]string{"1x": "a", "ok": "{{ meta.host", "service-name": "x"}},
			want: []string{
				`labels.1x: "1x" is not a valid label name: want a letter or _ then letters, digits or _`,
				`labels.ok: "{{ meta.host" has a {{ with no }} after it`,
				`labels.service-name: "service-name" is not a valid label name: want a letter or _ then letters, digits or _`,
			}},
		{name: "empty labels", cfg: Config{URL: "http://l", Labels: map[string]string{}},
			want: []string{"labels: is empty: Loki needs at least one stream label (leave labels out for the default host and source)"}},
		{name: "bad structured metadata", cfg: Config{URL: "http://l", StructuredMetadata: map[string]string{"t": "{{ }}"}},
			want: []string{`structured_metadata.t: "{{ }}": empty {{ }}: want {{ field.path }} or {{ meta.key }}`}},
		{name: "tenant", cfg: Config{URL: "http://l", TenantID: "a/b"}, want: []string{`tenant_id: "a/b" may hold only letters, digits and ! - _ . * ' ( )`}},
		{name: "tenant long", cfg: Config{URL: "http://l", TenantID: long}, want: []string{`tenant_id: "` + long + `" is longer than 150 bytes`}},
		{name: "tenant dot", cfg: Config{URL: "http://l", TenantID: ".."}, want: []string{`tenant_id: ".." is not a tenant id`}},
		{name: "encoding and compression", cfg: Config{URL: "http://l", Encoding: "logfmt", Batching: httpclient.Batching{Compression: "zstd"}},
			want: []string{`encoding: "logfmt" is not text or json`, `compression: "zstd" is not none or gzip`}},
		{name: "negative sizes", cfg: Config{URL: "http://l", Batching: httpclient.Batching{BatchBytes: -1, Retry: config.Retry{MaxElapsed: -1}}},
			want: []string{"batch_bytes: must not be negative", "retry.max_elapsed: must not be negative"}},
		{name: "backoff order", cfg: Config{URL: "http://l", Batching: httpclient.Batching{Retry: config.Retry{InitialBackoff: config.Duration(time.Minute), MaxBackoff: config.Duration(time.Second)}}},
			want: []string{"retry.initial_backoff: 1m0s is more than retry.max_backoff 1s"}},
		{name: "http client", cfg: Config{URL: "http://l", Batching: httpclient.Batching{HTTPClient: config.HTTPClient{BearerToken: "a", BearerTokenFile: "b"}}},
			want: []string{"bearer_token: set bearer_token or bearer_token_file, not both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, fe := range component.FieldErrors(tt.cfg.Validate()) {
				got = append(got, fe.Path+": "+fe.Msg)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPushURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:3100", "http://127.0.0.1:3100/loki/api/v1/push"},
		{"http://127.0.0.1:3100/", "http://127.0.0.1:3100/loki/api/v1/push"},
		{"https://gw.example/loki", "https://gw.example/loki/loki/api/v1/push"},
		{"https://gw.example/tenant/a/", "https://gw.example/tenant/a/loki/api/v1/push"},
		{"http://l:3100/loki/api/v1/push", "http://l:3100/loki/api/v1/push"},
		{"http://l:3100/loki/api/v1/push?x=1", "http://l:3100/loki/api/v1/push?x=1"},
		{"http://l:3100?x=1", "http://l:3100/loki/api/v1/push?x=1"},
	}
	for _, tt := range tests {
		got, err := pushURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("pushURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
