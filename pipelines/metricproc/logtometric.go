package metricproc

import (
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/pipelines/template"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

// LogToMetricConfig is the log_to_metric processor's config:
//
//	processors:
//	  - log_to_metric:
//	      interval: 15s
//	      metrics:
//	        - {name: http_requests_total, type: counter, labels: {status: "{{ status }}", host: "{{ meta.host }}"}}
//	        - {name: http_request_seconds, type: histogram, field: duration, buckets: [0.1, 0.5, 1]}
//	        - {name: errors_total, type: counter, condition: 'level == "error"'}
type LogToMetricConfig struct {
	// Metrics are the series to keep; at least one.
	Metrics []MetricConfig `yaml:"metrics"`
	// Interval is how often the current values are emitted, as one
	// metric event appended to the batch being processed. Default 15s.
	Interval config.Duration `yaml:"interval"`
	// DropLogs drops the log events once counted. Default false: they
	// pass on.
	DropLogs bool `yaml:"drop_logs"`
	// MaxSeries caps the distinct series kept (over all metrics): an
	// event that would make a new one past it is not counted in that
	// metric. Default 10000.
	MaxSeries int `yaml:"max_series"`
}

// MetricConfig is one metric log_to_metric keeps.
type MetricConfig struct {
	// Name is the metric's name (a Prometheus metric name); a
	// histogram's series are Name_bucket, Name_sum and Name_count.
	Name string `yaml:"name"`
	// Type is counter, gauge or histogram.
	Type string `yaml:"type"`
	// Condition, when set, is an expr-lang boolean expression over the
	// event (its fields by name, message, meta, kind): only events it is
	// true for count. Default: every log event.
	Condition string `yaml:"condition"`
	// Field is the dotted path of a numeric field (a number, or a string
	// holding one): the value a histogram observes or a gauge is set to;
	// a counter adds it instead of 1 (negative values are refused). An
	// event without it is not counted in this metric. Required for
	// gauges and histograms.
	Field string `yaml:"field"`
	// Labels maps label names to templates: literal text with
	// {{ field.path }} and {{ meta.key }} references. A label whose value
	// comes out empty is left off, as Prometheus does.
	Labels map[string]string `yaml:"labels"`
	// Buckets are a histogram's upper bounds, increasing (+Inf is
	// implied). Default Prometheus's DefBuckets.
	Buckets []float64 `yaml:"buckets"`
}

// The metric types.
const (
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
)

// Defaults of LogToMetricConfig.
const (
	DefaultInterval  = 15 * time.Second
	DefaultMaxSeries = 10000
)

// DefaultBuckets are Prometheus's DefBuckets (client_golang).
var DefaultBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// withDefaults returns c with zero values at their defaults.
func (c LogToMetricConfig) withDefaults() LogToMetricConfig {
	if c.Interval == 0 {
		c.Interval = config.Duration(DefaultInterval)
	}
	if c.MaxSeries == 0 {
		c.MaxSeries = DefaultMaxSeries
	}
	c.Metrics = slices.Clone(c.Metrics)
	for i := range c.Metrics {
		m := &c.Metrics[i]
		if m.Type == typeHistogram && len(m.Buckets) == 0 {
			m.Buckets = DefaultBuckets
		}
		if n := len(m.Buckets); n > 0 && math.IsInf(m.Buckets[n-1], 1) {
			m.Buckets = m.Buckets[:n-1] // +Inf is always there
		}
	}
	return c
}

// Validate checks the keys and compiles the conditions and templates.
func (c *LogToMetricConfig) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, component.Errorf(path, format, args...))
	}
	if len(c.Metrics) == 0 {
		bad("metrics", "no metrics: want at least one {name, type}")
	}
	if c.Interval < 0 {
		bad("interval", "%s is negative: want how often to emit the metrics, e.g. 15s", time.Duration(c.Interval))
	}
	if c.MaxSeries < 0 {
		bad("max_series", "%d is negative: want the most series to keep (default %d)", c.MaxSeries, DefaultMaxSeries)
	}
	names := map[string]int{}
	for i := range c.Metrics {
		p := fmt.Sprintf("metrics[%d]", i)
		m := &c.Metrics[i]
		if j, dup := names[m.Name]; dup && m.Name != "" {
			bad(p+".name", "%q is already the name of metrics[%d]", m.Name, j)
		}
		names[m.Name] = i
		errs = append(errs, m.validate(p)...)
	}
	return errors.Join(errs...)
}

func (m *MetricConfig) validate(p string) []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, component.Errorf(p+"."+path, format, args...))
	}
	if !model.LegacyValidation.IsValidMetricName(m.Name) {
		bad("name", "%q is not a metric name: want [a-zA-Z_:][a-zA-Z0-9_:]*", m.Name)
	}
	switch m.Type {
	case typeCounter:
	case typeGauge, typeHistogram:
		if m.Field == "" {
			bad("field", "a %s needs field: the numeric field to observe", m.Type)
		}
	default:
		bad("type", "%q is not counter, gauge or histogram", m.Type)
	}
	if m.Condition != "" {
		if _, err := compileCondition(m.Condition); err != nil {
			bad("condition", "%q does not compile: %v", m.Condition, err)
		}
	}
	for _, name := range sortedKeys(m.Labels) {
		switch {
		case !model.LegacyValidation.IsValidLabelName(name):
			bad("labels."+name, "%q is not a label name: want [a-zA-Z_][a-zA-Z0-9_]*", name)
		case strings.HasPrefix(name, "__"):
			bad("labels."+name, "label names starting with __ are reserved")
		case name == "le" && m.Type == typeHistogram:
			bad("labels."+name, "le is the bucket label of a histogram")
		}
		if _, err := template.Parse(m.Labels[name]); err != nil {
			bad("labels."+name, "%v", err)
		}
	}
	if len(m.Buckets) > 0 && m.Type != typeHistogram {
		bad("buckets", "only a histogram has buckets")
	}
	for i, b := range m.Buckets {
		switch {
		case math.IsNaN(b):
			bad(fmt.Sprintf("buckets[%d]", i), "NaN is not a bucket bound")
		case i > 0 && b <= m.Buckets[i-1]:
			bad(fmt.Sprintf("buckets[%d]", i), "%g is not above %g: want increasing bounds", b, m.Buckets[i-1])
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
