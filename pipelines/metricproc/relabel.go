package metricproc

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// nameValidation is the label name validation the rules use: Prometheus
// 3's default, UTF-8 names.
const nameValidation = model.UTF8Validation

// RelabelConfig is the relabel processor's config.
type RelabelConfig struct {
	// Configs are the rules, written exactly as Prometheus's
	// metric_relabel_configs and applied in order to every series of a
	// metric event. No rules (the default) changes nothing.
	Configs []*relabel.Config `yaml:"configs"`
}

// Validate checks each rule as Prometheus does when it loads a config.
// Bad regexes and unknown actions are refused when the YAML is decoded.
func (c *RelabelConfig) Validate() error {
	var errs []error
	for i, rc := range c.Configs {
		path := fmt.Sprintf("configs[%d]", i)
		if rc == nil {
			errs = append(errs, component.Errorf(path, "empty rule: want at least an action, e.g. {action: labeldrop, regex: tmp_.*}"))
			continue
		}
		if rc.Regex.Regexp == nil {
			errs = append(errs, component.Errorf(path, "no regex: start from relabel.DefaultRelabelConfig when building a rule in Go"))
			continue
		}
		cp := *rc // Validate fills in NameValidationScheme.
		if err := cp.Validate(nameValidation); err != nil {
			errs = append(errs, component.Errorf(path, "%v", err))
		}
	}
	return errors.Join(errs...)
}

// Relabel is the relabel processor. It is safe for concurrent use.
type Relabel struct {
	rules   []*rule
	dropped *metrics.Counter
	pool    sync.Pool // of *relabeler
}

// NewRelabel returns the relabel processor.
func NewRelabel(cfg RelabelConfig, set component.Settings) (*Relabel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Relabel{dropped: set.Metrics.GetOrCreateCounter(fmt.Sprintf(
		`sluice_collector_relabel_series_dropped_total{processor="%s"}`, component.Label(set.Name)))}
	for i, rc := range cfg.Configs {
		ru, err := newRule(rc)
		if err != nil {
			return nil, component.Errorf(fmt.Sprintf("configs[%d]", i), "%v", err)
		}
		r.rules = append(r.rules, ru)
	}
	r.pool.New = func() any { return newRelabeler(len(r.rules)) }
	return r, nil
}

// Process relabels every series of the metric events; log events pass
// as they are. A series the rules drop, or leave with no labels, is
// removed (and counted); an event left with no series is dropped.
func (r *Relabel) Process(events []*event.Event) []*event.Event {
	if len(r.rules) == 0 {
		return events
	}
	w := r.pool.Get().(*relabeler)
	defer r.pool.Put(w)
	out := events[:0]
	dropped := 0
	for _, e := range events {
		if e.Kind != event.KindMetric || len(e.Series) == 0 {
			out = append(out, e)
			continue
		}
		n := 0
		for i := range e.Series {
			if w.relabelSeries(r.rules, &e.Series[i]) {
				if n != i {
					e.Series[n] = e.Series[i]
				}
				n++
			}
		}
		dropped += len(e.Series) - n
		clear(e.Series[n:]) // let the dropped series' labels go
		e.Series = e.Series[:n]
		if n > 0 {
			out = append(out, e)
		}
	}
	if dropped > 0 {
		r.dropped.Add(dropped)
	}
	clear(events[len(out):])
	return out
}

// relabeler is one goroutine's scratch space for relabelling; nothing
// in it is allocated per series once it has warmed up.
type relabeler struct {
	ls         labelSet
	out        []prompb.Label
	joinBuf    []byte
	target     []byte
	result     []byte
	arena      arena
	labelArena labelArena
	// last is, per rule, the last replace it computed: the series of one
	// batch mostly share the values rules read (job, instance).
	last []replaceMemo
}

func newRelabeler(rules int) *relabeler {
	return &relabeler{last: make([]replaceMemo, rules)}
}

// relabelSeries applies the rules to s and reports whether to keep it.
// Its labels are rewritten in place only when the rules changed them.
func (w *relabeler) relabelSeries(rules []*rule, s *prompb.TimeSeries) bool {
	if !w.ls.reset(s.Labels) {
		slices.SortFunc(s.Labels, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
		w.ls.reset(s.Labels)
	}
	for i, ru := range rules {
		if !w.apply(i, ru) {
			return false
		}
	}
	if !w.ls.changed() {
		return len(s.Labels) > 0
	}
	w.out = w.ls.appendResult(w.out[:0])
	if len(w.out) == 0 {
		return false
	}
	// The labels are written back over the old ones when they fit (the
	// event owns them; every string in w.out is one of them or stable),
	// else into a new slice: never past len(s.Labels), whose capacity
	// may be another series' labels.
	if len(w.out) <= len(s.Labels) {
		s.Labels = s.Labels[:len(w.out)]
	} else {
		s.Labels = w.labelArena.slice(len(w.out))
	}
	copy(s.Labels, w.out)
	return true
}

// labelArena hands out label slices carved from large chunks, each
// with its capacity cut to its length, so that a series that gains
// labels costs no allocation of its own.
type labelArena struct {
	buf []prompb.Label
}

const labelArenaChunk = 1024

func (a *labelArena) slice(n int) []prompb.Label {
	if n > cap(a.buf)-len(a.buf) {
		a.buf = make([]prompb.Label, 0, max(labelArenaChunk, n))
	}
	start := len(a.buf)
	a.buf = a.buf[:start+n]
	return a.buf[start : start+n : start+n]
}
