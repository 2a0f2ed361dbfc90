package scrape

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// Defaults of Config.
const (
	DefaultName         = "prometheus_scrape"
	DefaultMetricsPath  = "/metrics"
	DefaultScheme       = "http"
	DefaultInterval     = 15 * time.Second
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBodyBytes = 64 << 20
)

// BasicAuth is HTTP basic authentication for scrapes.
type BasicAuth struct {
	Username string
	Password string
}

// Config configures a scrape source. Job, Topic and at least one of
// Targets or FileSD are required; every other field has a default.
type Config struct {
	// Name of the source, in logs and metrics. Default "prometheus_scrape".
	Name string
	// Job is the job label of every target. Required.
	Job string
	// Topic the records go to. Required.
	Topic string
	// Targets are static host:port addresses.
	Targets []string
	// FileSD are files in Prometheus file_sd format (JSON, or YAML when
	// the name ends in .yml/.yaml), re-read when their mtime changes.
	FileSD []string
	// MetricsPath is the HTTP path scraped. Default "/metrics".
	MetricsPath string
	// Scheme is "http" (default) or "https".
	Scheme string
	// Params are URL query parameters of every scrape.
	Params url.Values
	// BasicAuth, if set, authenticates scrapes; exclusive with BearerToken.
	BasicAuth *BasicAuth
	// BearerToken, if set, is sent as "Authorization: Bearer ...".
	BearerToken string
	// TLSConfig for https targets. Default Go's defaults.
	TLSConfig *tls.Config
	// Interval between scrapes of a target. Default 15s.
	Interval time.Duration
	// Timeout of one scrape. Default 10s, or Interval if that is shorter;
	// must not exceed Interval.
	Timeout time.Duration
	// MaxBodyBytes bounds a scrape's body; a larger one fails the scrape
	// (up=0). Default 64 MiB.
	MaxBodyBytes int64
	// HonorLabels keeps scraped labels that conflict with target labels
	// instead of renaming them exported_<name>.
	HonorLabels bool
	// RelabelConfigs apply to targets before scraping,
	// MetricRelabelConfigs to every scraped series. Configs built in Go
	// should start from relabel.DefaultRelabelConfig, as YAML ones do; a
	// nil Regex means "(.*)".
	RelabelConfigs       []*relabel.Config
	MetricRelabelConfigs []*relabel.Config
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the source's own metrics. Default a new set.
	Metrics *metrics.Set
}

// Validate reports every problem of c, with defaults applied.
func (c *Config) Validate() error {
	d := *c
	d.setDefaults()
	var errs []error
	if d.Job == "" {
		errs = append(errs, errors.New("scrape: job is required"))
	}
	if d.Topic == "" {
		errs = append(errs, errors.New("scrape: topic is required"))
	}
	if len(d.Targets) == 0 && len(d.FileSD) == 0 {
		errs = append(errs, errors.New("scrape: targets or file_sd is required"))
	}
	for _, t := range d.Targets {
		if t == "" {
			errs = append(errs, errors.New("scrape: empty target"))
		}
	}
	if d.Scheme != "http" && d.Scheme != "https" {
		errs = append(errs, fmt.Errorf("scrape: scheme %q is not http or https", d.Scheme))
	}
	if d.Interval < 0 || d.Timeout < 0 {
		errs = append(errs, errors.New("scrape: interval and timeout must not be negative"))
	}
	if d.Timeout > d.Interval {
		errs = append(errs, fmt.Errorf("scrape: timeout %v is longer than interval %v", d.Timeout, d.Interval))
	}
	if d.BasicAuth != nil && d.BearerToken != "" {
		errs = append(errs, errors.New("scrape: basic_auth and bearer_token are exclusive"))
	}
	for i, rc := range d.RelabelConfigs {
		if err := validateRelabel(rc); err != nil {
			errs = append(errs, fmt.Errorf("scrape: relabel_configs[%d]: %w", i, err))
		}
	}
	for i, rc := range d.MetricRelabelConfigs {
		if err := validateRelabel(rc); err != nil {
			errs = append(errs, fmt.Errorf("scrape: metric_relabel_configs[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func validateRelabel(rc *relabel.Config) error {
	if rc == nil {
		return errors.New("nil config")
	}
	c := *rc
	return c.Validate(model.UTF8Validation)
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.MetricsPath == "" {
		c.MetricsPath = DefaultMetricsPath
	}
	if c.Scheme == "" {
		c.Scheme = DefaultScheme
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = min(DefaultTimeout, c.Interval)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
}

// prepareRelabel copies cfgs so that validation (which fills in the name
// validation scheme) and the nil-Regex default never touch the caller's.
func prepareRelabel(cfgs []*relabel.Config) []*relabel.Config {
	out := make([]*relabel.Config, len(cfgs))
	for i, rc := range cfgs {
		c := *rc
		if c.Regex.Regexp == nil {
			c.Regex = relabel.DefaultRelabelConfig.Regex
		}
		_ = c.Validate(model.UTF8Validation) // checked by Config.Validate; sets the scheme
		out[i] = &c
	}
	return out
}
