package httpclient

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

// DefaultTimeout bounds one request when the config sets none.
const DefaultTimeout = 30 * time.Second

// Client sends requests with a sink's headers and credentials.
type Client struct {
	HTTP    *http.Client
	headers map[string]string
	user    string
	pass    string
	bearer  string
}

// Validate checks c; paths are relative to the sink's config.
func Validate(c *config.HTTPClient) error {
	var errs []error
	if c.BasicAuth != nil {
		if c.BasicAuth.Username == "" {
			errs = append(errs, component.Errorf("basic_auth.username", "basic auth needs a username"))
		}
		if c.BasicAuth.Password != "" && c.BasicAuth.PasswordFile != "" {
			errs = append(errs, component.Errorf("basic_auth", "set password or password_file, not both"))
		}
	}
	if c.BearerToken != "" && c.BearerTokenFile != "" {
		errs = append(errs, component.Errorf("bearer_token", "set bearer_token or bearer_token_file, not both"))
	}
	if (c.BearerToken != "" || c.BearerTokenFile != "") && c.BasicAuth != nil {
		errs = append(errs, component.Errorf("bearer_token", "set basic_auth or a bearer token, not both"))
	}
	if t := c.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, component.Errorf("tls", "cert_file and key_file go together"))
	}
	if c.Timeout < 0 {
		errs = append(errs, component.Errorf("timeout", "must not be negative"))
	}
	return errors.Join(errs...)
}

// New builds a client; it reads the credential and TLS files now, so a
// missing file is an error at start, not at the first request.
func New(c config.HTTPClient) (*Client, error) {
	cl := &Client{headers: c.Headers, bearer: c.BearerToken}
	if c.BasicAuth != nil {
		cl.user, cl.pass = c.BasicAuth.Username, c.BasicAuth.Password
		if f := c.BasicAuth.PasswordFile; f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read basic_auth.password_file: %w", err)
			}
			cl.pass = strings.TrimSpace(string(b))
		}
	}
	if f := c.BearerTokenFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read bearer_token_file: %w", err)
		}
		cl.bearer = strings.TrimSpace(string(b))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	if c.TLS != nil {
		tc, err := c.TLS.ClientConfig()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	timeout := c.Timeout.D()
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	cl.HTTP = &http.Client{Transport: tr, Timeout: timeout}
	return cl, nil
}

// Do sends req with the configured headers and credentials; headers the
// sink set on req itself win over configured ones of the same name
// only for Content-Type, Content-Encoding and protocol headers.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	for k, v := range c.headers {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, v)
		}
	}
	switch {
	case c.user != "":
		req.SetBasicAuth(c.user, c.pass)
	case c.bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	return c.HTTP.Do(req)
}

// CloseIdle closes idle connections (at the sink's Close).
func (c *Client) CloseIdle() { c.HTTP.CloseIdleConnections() }

// Retriable reports whether a response status is worth retrying: 5xx
// and 429 (and 408), as the remote write spec says; other 4xx are the
// request's fault and retrying cannot help.
func Retriable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// RetryAfter returns the wait a Retry-After header asks for (seconds or
// an HTTP date), or 0.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
