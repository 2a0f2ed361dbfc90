package loki

import (
	"errors"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/httpclient"
	"github.com/sluicehq/sluice/pipelines/template"
)

// PushPath is Loki's push endpoint, added to a url that does not end
// with it.
const PushPath = "/loki/api/v1/push"

// DefaultBatchBytes bounds a push body when batch_bytes is not set.
const DefaultBatchBytes = httpclient.DefaultBatchBytes

// DefaultLabels are the stream labels when labels is not set.
var DefaultLabels = map[string]string{
	"host":   "{{ meta.host }}",
	"source": "{{ meta.source }}",
}

// Config is the loki sink's keys.
type Config struct {
	// URL is Loki: its base URL ("http://127.0.0.1:3100", or a path
	// prefix behind a proxy, "https://gw/loki") to which /loki/api/v1/push
	// is added, or the full push URL ending in /loki/api/v1/push, used as
	// it is. Required.
	URL string `yaml:"url"`
	// Labels maps a stream label name to a template: literal text with
	// `{{ field.path }}` (a field of the event) and `{{ meta.key }}` (a meta
	// key, e.g. {{ meta.host }}) placeholders. A label that expands empty
	// is left out of the event's stream. Default
	// {host: "{{ meta.host }}", source: "{{ meta.source }}"}.
	Labels map[string]string `yaml:"labels"`
	// StructuredMetadata maps a name to a template, like labels, sent as
	// Loki 3 structured metadata of each entry (not indexed, so fit for
	// high-cardinality values such as trace ids). Empty values are left
	// out. Default none.
	StructuredMetadata map[string]string `yaml:"structured_metadata"`
	// TenantID, when set, is sent as X-Scope-OrgID (multi-tenant Loki).
	TenantID string `yaml:"tenant_id"`
	// Encoding is what an entry's line is: text (default; the message
	// field) or json (the whole event as event.AppendJSON writes it).
	Encoding string `yaml:"encoding"`
	// Batching: compression, batch_bytes, retry, and the HTTP client's
	// headers, basic_auth, bearer_token(_file), tls, timeout. A push body
	// is one request.
	httpclient.Batching `yaml:",inline"`
}

// Validate checks c.
func (c *Config) Validate() error {
	var errs []error
	if _, err := pushURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, validateTemplates("labels", c.Labels)...)
	errs = append(errs, validateTemplates("structured_metadata", c.StructuredMetadata)...)
	if c.Labels != nil && len(c.Labels) == 0 {
		errs = append(errs, component.Errorf("labels", "is empty: Loki needs at least one stream label (leave labels out for the default host and source)"))
	}
	if msg := tenantProblem(c.TenantID); msg != "" {
		errs = append(errs, component.Errorf("tenant_id", "%q %s", c.TenantID, msg))
	}
	switch c.Encoding {
	case "", "text", "json":
	default:
		errs = append(errs, component.Errorf("encoding", "%q is not text or json", c.Encoding))
	}
	errs = append(errs, c.Batching.Validate())
	return errors.Join(errs...)
}

// pushURL returns the push endpoint a url key names.
func pushURL(raw string) (string, error) {
	u, err := httpclient.ParseURL(raw, "is required: Loki's base URL (http://127.0.0.1:3100) or its push URL")
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(u.Path, PushPath) {
		u.Path = strings.TrimRight(u.Path, "/") + PushPath
		u.RawPath = ""
	}
	return u.String(), nil
}

// validateTemplates checks the names and templates of labels or
// structured_metadata.
func validateTemplates(key string, m map[string]string) []error {
	var errs []error
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !validLabelName(n) {
			errs = append(errs, component.Errorf(key+"."+n, "%q is not a valid label name: want a letter or _ then letters, digits or _", n))
			continue
		}
		if _, err := template.Parse(m[n]); err != nil {
			errs = append(errs, component.Errorf(key+"."+n, "%v", err))
		}
	}
	return errs
}

// validLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*, the
// label names Loki accepts.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// tenantProblem says what is wrong with a tenant id by Loki's rules, or
// returns "".
func tenantProblem(id string) string {
	switch {
	case id == "":
		return ""
	case len(id) > 150:
		return "is longer than 150 bytes"
	case id == "." || id == "..":
		return "is not a tenant id"
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!-_.*'()", c) >= 0) {
			return "may hold only letters, digits and ! - _ . * ' ( )"
		}
	}
	return ""
}
