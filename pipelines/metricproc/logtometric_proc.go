package metricproc

import (
	"encoding/binary"
	"fmt"
	"github.com/sluicehq/sluice/pipelines/template"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/expr-lang/expr/vm"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// LogToMetric is the log_to_metric processor. It keeps, per series, the
// cumulative value since the process started (counters never reset),
// and appends a metric event holding every series' current value to the
// batch it processes at most once per interval. It is safe for
// concurrent use (one lock around the state).
type LogToMetric struct {
	metrics   []*metricDef
	interval  time.Duration
	dropLogs  bool
	maxSeries int
	now       func() time.Time
	set       component.Settings
	overMax   *metrics.Counter

	mu       sync.Mutex
	lastEmit time.Time
	lastLog  time.Time
	series   map[string]*seriesState // by seriesKey
	order    []*seriesState          // creation order, or sorted when sorted
	sorted   bool
	key      []byte // scratch: the key of the series being looked up
	ends     []int  // scratch: where each label value ends in key
	vm       vm.VM
	env      map[string]any
}

// metricDef is one MetricConfig, compiled.
type metricDef struct {
	index int
	name  string
	typ   string
	cond  *condition
	field string
	// labelNames are sorted; templates[i] gives labelNames[i]'s value.
	labelNames []string
	templates  []template.Template
	buckets    []float64
	// le are the buckets' bounds as label values, then "+Inf".
	le                             []string
	bucketName, sumName, countName string
	metaType                       prompb.MetricMetadata_MetricType
	// skipped counts events this metric did not count, by reason.
	noValue, condErrors *metrics.Counter
}

// seriesState is one series' value since the start.
type seriesState struct {
	metric *metricDef
	labels []prompb.Label // the configured labels, sorted, without __name__
	value  float64        // counter, gauge
	counts []uint64       // histogram: per bucket (not cumulative), then +Inf
	sum    float64
	count  uint64
}

// NewLogToMetric returns the log_to_metric processor.
func NewLogToMetric(cfg LogToMetricConfig, set component.Settings) (*LogToMetric, error) {
	return newLogToMetric(cfg, set, time.Now)
}

// newLogToMetric is NewLogToMetric with a clock.
func newLogToMetric(cfg LogToMetricConfig, set component.Settings, now func() time.Time) (*LogToMetric, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &LogToMetric{
		interval:  cfg.Interval.D(),
		dropLogs:  cfg.DropLogs,
		maxSeries: cfg.MaxSeries,
		now:       now,
		set:       set,
		overMax: set.Metrics.GetOrCreateCounter(fmt.Sprintf(
			`sluice_collector_processor_dropped_total{processor="%s",reason="max_series"}`, component.Label(set.Name))),
		series:   map[string]*seriesState{},
		lastEmit: now(),
		env:      map[string]any{},
	}
	for i, mc := range cfg.Metrics {
		m, err := newMetricDef(i, mc, set)
		if err != nil {
			return nil, component.Errorf(fmt.Sprintf("metrics[%d]", i), "%v", err)
		}
		p.metrics = append(p.metrics, m)
	}
	return p, nil
}

func newMetricDef(i int, mc MetricConfig, set component.Settings) (*metricDef, error) {
	m := &metricDef{index: i, name: mc.Name, typ: mc.Type, field: mc.Field, buckets: mc.Buckets,
		bucketName: mc.Name + "_bucket", sumName: mc.Name + "_sum", countName: mc.Name + "_count"}
	switch mc.Type {
	case typeCounter:
		m.metaType = prompb.MetricMetadata_COUNTER
	case typeGauge:
		m.metaType = prompb.MetricMetadata_GAUGE
	case typeHistogram:
		m.metaType = prompb.MetricMetadata_HISTOGRAM
	}
	if mc.Condition != "" {
		c, err := newCondition(mc.Condition)
		if err != nil {
			return nil, fmt.Errorf("condition %q: %w", mc.Condition, err)
		}
		m.cond = c
	}
	for _, name := range sortedKeys(mc.Labels) {
		t, err := template.Parse(mc.Labels[name])
		if err != nil {
			return nil, fmt.Errorf("label %s: %w", name, err)
		}
		m.labelNames = append(m.labelNames, name)
		m.templates = append(m.templates, t)
	}
	for _, b := range m.buckets {
		m.le = append(m.le, labels.FormatOpenMetricsFloat(b))
	}
	if m.typ == typeHistogram {
		m.le = append(m.le, "+Inf")
	}
	skipped := func(reason string) *metrics.Counter {
		return set.Metrics.GetOrCreateCounter(fmt.Sprintf(
			`sluice_collector_log_to_metric_skipped_total{processor="%s",metric="%s",reason="%s"}`,
			component.Label(set.Name), m.name, reason))
	}
	m.noValue, m.condErrors = skipped("no_value"), skipped("condition_error")
	return m, nil
}

// Process counts the log events into the metrics, drops them if
// drop_logs says so, and appends the metric event when it is time.
// Metric events pass as they are.
func (p *LogToMetric) Process(events []*event.Event) []*event.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := events[:0]
	for _, e := range events {
		if e.Kind != event.KindLog {
			out = append(out, e)
			continue
		}
		for _, m := range p.metrics {
			p.observeLocked(m, e)
		}
		if !p.dropLogs {
			out = append(out, e)
		}
	}
	clear(events[len(out):])
	if now := p.now(); now.Sub(p.lastEmit) >= p.interval {
		p.lastEmit = now
		if e := p.emitLocked(now); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// observeLocked counts e in m if m's condition holds and e has m's value.
func (p *LogToMetric) observeLocked(m *metricDef, e *event.Event) {
	if m.cond != nil {
		ok, err := m.cond.eval(&p.vm, p.env, e)
		if err != nil {
			m.condErrors.Inc()
			p.logErrorLocked(m, err)
			return
		}
		if !ok {
			return
		}
	}
	v := 1.0
	if m.field != "" {
		raw, _ := e.Get(m.field)
		f, ok := number(raw)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) || (m.typ == typeCounter && f < 0) {
			m.noValue.Inc()
			return
		}
		v = f
	}
	s := p.lookupLocked(m, e)
	if s == nil {
		return
	}
	switch m.typ {
	case typeCounter:
		s.value += v
	case typeGauge:
		s.value = v
	case typeHistogram:
		s.counts[sort.SearchFloat64s(m.buckets, v)]++ // the first bound >= v
		s.sum += v
		s.count++
	}
}

// errorLogInterval is how often at most a condition error is logged:
// the counter has them all, the log shows what they look like.
const errorLogInterval = time.Minute

func (p *LogToMetric) logErrorLocked(m *metricDef, err error) {
	now := p.now()
	if !p.lastLog.IsZero() && now.Sub(p.lastLog) < errorLogInterval {
		return
	}
	p.lastLog = now
	p.set.Logger.Warn("log_to_metric condition failed; the event is not counted",
		"processor", p.set.Name, "metric", m.name, "error", err, "next_log_in", errorLogInterval.String())
}

// lookupLocked returns e's series of m, making it if there is room.
func (p *LogToMetric) lookupLocked(m *metricDef, e *event.Event) *seriesState {
	// The key is the metric's index, then each label value followed by
	// its length, which makes the key unambiguous whatever the values.
	key := binary.AppendUvarint(p.key[:0], uint64(m.index))
	ends := p.ends[:0]
	for _, t := range m.templates {
		start := len(key)
		key = t.AppendTo(key, e)
		ends = append(ends, len(key))
		key = binary.LittleEndian.AppendUint32(key, uint32(len(key)-start))
	}
	p.key, p.ends = key, ends
	if s, ok := p.series[string(key)]; ok {
		return s
	}
	if len(p.series) >= p.maxSeries {
		p.overMax.Inc()
		return nil
	}
	s := &seriesState{metric: m}
	var varint [binary.MaxVarintLen64]byte
	start := binary.PutUvarint(varint[:], uint64(m.index))
	for i, end := range ends {
		if end > start {
			s.labels = append(s.labels, prompb.Label{Name: m.labelNames[i], Value: string(key[start:end])})
		}
		start = end + 4
	}
	if m.typ == typeHistogram {
		s.counts = make([]uint64, len(m.le))
	}
	p.series[string(key)] = s
	p.order = append(p.order, s)
	p.sorted = false
	return s
}

// emitLocked returns a metric event with every series' current value
// at now, or nil when there is none yet. The event's slices are its own:
// later processors may change them.
func (p *LogToMetric) emitLocked(now time.Time) *event.Event {
	if len(p.order) == 0 {
		return nil
	}
	if !p.sorted {
		slices.SortFunc(p.order, compareSeries)
		p.sorted = true
	}
	nSeries, nLabels := 0, 0
	for _, s := range p.order {
		n := 1
		if s.metric.typ == typeHistogram {
			n = len(s.counts) + 2
			nLabels += len(s.counts) // le
		}
		nSeries += n
		nLabels += n * (len(s.labels) + 1) // + __name__
	}
	ts := now.UnixMilli()
	series := make([]prompb.TimeSeries, 0, nSeries)
	lbls := make([]prompb.Label, 0, nLabels)
	samples := make([]prompb.Sample, nSeries)
	add := func(name string, s *seriesState, le string, v float64) {
		start := len(lbls)
		lbls = appendSeriesLabels(lbls, name, s.labels, le)
		smp := &samples[len(series)]
		smp.Value, smp.Timestamp = v, ts
		series = append(series, prompb.TimeSeries{
			Labels:  lbls[start:len(lbls):len(lbls)],
			Samples: samples[len(series) : len(series)+1 : len(series)+1],
		})
	}
	var md []prompb.MetricMetadata
	for i, s := range p.order {
		m := s.metric
		if i == 0 || p.order[i-1].metric != m {
			md = append(md, prompb.MetricMetadata{Type: m.metaType, MetricFamilyName: m.name,
				Help: "Made from log events by the log_to_metric processor " + p.set.Name + "."})
		}
		if m.typ != typeHistogram {
			add(m.name, s, "", s.value)
			continue
		}
		var cumulative uint64
		for j, c := range s.counts {
			cumulative += c
			add(m.bucketName, s, m.le[j], float64(cumulative))
		}
		add(m.sumName, s, "", s.sum)
		add(m.countName, s, "", float64(s.count))
	}
	return &event.Event{Kind: event.KindMetric, Time: now, Series: series, Metadata: md}
}

// appendSeriesLabels appends labels (sorted, none named __name__ or le)
// with __name__=name and, if le is not empty, le=le, all sorted.
func appendSeriesLabels(dst []prompb.Label, name string, ls []prompb.Label, le string) []prompb.Label {
	extra := [2]prompb.Label{{Name: labels.MetricName, Value: name}, {Name: labels.BucketLabel, Value: le}}
	n := 1
	if le != "" {
		n = 2
	}
	x := 0
	for _, l := range ls {
		for x < n && extra[x].Name < l.Name {
			dst = append(dst, extra[x])
			x++
		}
		dst = append(dst, l)
	}
	return append(dst, extra[x:n]...)
}

// compareSeries orders series by metric, then labels.
func compareSeries(a, b *seriesState) int {
	if a.metric.index != b.metric.index {
		return a.metric.index - b.metric.index
	}
	for i := 0; i < len(a.labels) && i < len(b.labels); i++ {
		if c := strings.Compare(a.labels[i].Name, b.labels[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.labels[i].Value, b.labels[i].Value); c != 0 {
			return c
		}
	}
	return len(a.labels) - len(b.labels)
}
