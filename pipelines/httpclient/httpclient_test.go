package httpclient

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

func TestClientAddsHeadersAndCredentials(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  config.HTTPClient
		auth string
	}{
		{"basic", config.HTTPClient{BasicAuth: &config.BasicAuth{Username: "u", Password: "p"}}, "Basic dTpw"},
		{"bearer file", config.HTTPClient{BearerTokenFile: tokenFile}, "Bearer s3cret"},
		{"none", config.HTTPClient{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Headers = map[string]string{"X-Team": "a", "Content-Type": "configured"}
			c, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdle()
			req, _ := http.NewRequest("POST", srv.URL, nil)
			req.Header.Set("Content-Type", "application/x-protobuf")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got.Get("Authorization") != tt.auth || got.Get("X-Team") != "a" || got.Get("Content-Type") != "application/x-protobuf" {
				t.Fatalf("headers %v", got)
			}
		})
	}
	if _, err := New(config.HTTPClient{BearerTokenFile: "/no/such/file"}); err == nil || !strings.Contains(err.Error(), "read bearer_token_file") {
		t.Fatalf("missing token file: %v", err)
	}
	if _, err := New(config.HTTPClient{TLS: &config.TLS{CAFile: tokenFile}}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad CA file: %v", err)
	}
}

func TestValidate(t *testing.T) {
	err := Validate(&config.HTTPClient{BasicAuth: &config.BasicAuth{Password: "p", PasswordFile: "f"}, BearerToken: "t",
		TLS: &config.TLS{CertFile: "c"}, Timeout: -1})
	var paths []string
	for _, fe := range component.FieldErrors(err) {
		paths = append(paths, fe.Path+": "+fe.Msg)
	}
	want := "basic_auth.username: basic auth needs a username|basic_auth: set password or password_file, not both|" +
		"bearer_token: set basic_auth or a bearer token, not both|tls: cert_file and key_file go together|timeout: must not be negative"
	if strings.Join(paths, "|") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(paths, "|"), want)
	}
	if err := Validate(&config.HTTPClient{}); err != nil {
		t.Fatal(err)
	}
}

func TestRetryPolicy(t *testing.T) {
	for code, want := range map[int]bool{200: false, 400: false, 404: false, 408: true, 429: true, 500: true, 503: true} {
		if Retriable(code) != want {
			t.Errorf("Retriable(%d) = %v", code, !want)
		}
	}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second, now.Add(-time.Minute).Format(http.TimeFormat): 0} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := RetryAfter(h, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
