package event

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// Kind tells log events from metric events.
type Kind uint8

// The kinds of events.
const (
	KindLog Kind = iota
	KindMetric
)

func (k Kind) String() string {
	if k == KindMetric {
		return "metric"
	}
	return "log"
}

// Field and meta names with a fixed meaning.
const (
	// FieldMessage is the log line.
	FieldMessage = "message"
	// MetaTopic and MetaKey are where the event was read from.
	MetaTopic = "topic"
	MetaKey   = "key"
	// MetaHost, MetaSource and MetaFile are set by the agent.
	MetaHost   = "host"
	MetaSource = "source"
	MetaFile   = "file"
)

// Event is one log event or one batch of metric samples.
type Event struct {
	Kind Kind
	// Time is when the event happened: the agent's read time until a
	// timestamp processor sets it from a field.
	Time time.Time
	// Fields is the log event's body. Values are what encoding/json
	// produces: string, float64, bool, nil, []any and map[string]any, plus
	// int64 and time.Time set by processors.
	Fields Fields
	// Meta is what came with the message (properties) and where it was
	// read from.
	Meta map[string]string
	// Series and Metadata are a metric event's samples.
	Series   []prompb.TimeSeries
	Metadata []prompb.MetricMetadata
	// Routes, when not nil, names the sinks this event goes to instead of
	// its pipeline's `to` (set by the route processor; empty: none).
	Routes []string
}

// NewLog returns a log event holding msg.
func NewLog(msg string, t time.Time, meta map[string]string) *Event {
	e := &Event{Kind: KindLog, Time: t, Meta: meta}
	e.Fields.Set(FieldMessage, msg)
	return e
}

// Message returns the message field as a string ("" if it is not one).
func (e *Event) Message() string {
	s, _ := e.Fields.Value(FieldMessage).(string)
	return s
}

// Get returns the field at a dotted path ("http.status"); a top-level
// field whose name itself contains dots is found first.
func (e *Event) Get(path string) (any, bool) {
	if v, ok := e.Fields.Get(path); ok {
		return v, true
	}
	head, rest, more := strings.Cut(path, ".")
	if !more {
		return nil, false
	}
	cur, ok := e.Fields.Get(head)
	for part := range strings.SplitSeq(rest, ".") {
		m, isMap := cur.(map[string]any)
		if !ok || !isMap {
			return nil, false
		}
		cur, ok = m[part]
	}
	return cur, ok
}

// Set sets the field at a dotted path, making the maps on the way.
func (e *Event) Set(path string, v any) {
	head, rest, more := strings.Cut(path, ".")
	if !more {
		e.Fields.Set(head, v)
		return
	}
	m, ok := e.Fields.Value(head).(map[string]any)
	if !ok {
		m = map[string]any{}
		e.Fields.Set(head, m)
	}
	for {
		head, rest, more = strings.Cut(rest, ".")
		if !more {
			m[head] = v
			return
		}
		next, ok := m[head].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[head] = next
		}
		m = next
	}
}

// Delete removes the field at a dotted path and returns what it held.
func (e *Event) Delete(path string) (any, bool) {
	if v, ok := e.Fields.Delete(path); ok {
		return v, true
	}
	head, rest, more := strings.Cut(path, ".")
	if !more {
		return nil, false
	}
	m, ok := e.Fields.Value(head).(map[string]any)
	for ok {
		head, rest, more = strings.Cut(rest, ".")
		if !more {
			v, found := m[head]
			delete(m, head)
			return v, found
		}
		m, ok = m[head].(map[string]any)
	}
	return nil, false
}

// Clone returns a copy of e that shares no memory with it, strings
// included: what a component keeps past a batch's delivery must be a
// copy, for the collector reuses the batch's memory. Unknown protobuf
// fields of series (XXX_unrecognized), which sluice's decoders never
// set, may be shared.
func (e *Event) Clone() *Event {
	c := &Event{Kind: e.Kind, Time: e.Time, Routes: cloneStrings(e.Routes)}
	c.Fields = e.Fields.clone()
	if e.Meta != nil {
		c.Meta = make(map[string]string, len(e.Meta))
		for k, v := range e.Meta {
			c.Meta[strings.Clone(k)] = strings.Clone(v)
		}
	}
	if e.Series != nil {
		c.Series = make([]prompb.TimeSeries, len(e.Series))
		for i, s := range e.Series {
			c.Series[i] = prompb.TimeSeries{Labels: cloneLabels(s.Labels), Samples: slices.Clone(s.Samples)}
			for _, x := range s.Exemplars {
				x.Labels = cloneLabels(x.Labels)
				c.Series[i].Exemplars = append(c.Series[i].Exemplars, x)
			}
			for _, h := range s.Histograms {
				h.NegativeSpans, h.PositiveSpans = slices.Clone(h.NegativeSpans), slices.Clone(h.PositiveSpans)
				h.NegativeDeltas, h.PositiveDeltas = slices.Clone(h.NegativeDeltas), slices.Clone(h.PositiveDeltas)
				h.NegativeCounts, h.PositiveCounts = slices.Clone(h.NegativeCounts), slices.Clone(h.PositiveCounts)
				h.CustomValues = slices.Clone(h.CustomValues)
				c.Series[i].Histograms = append(c.Series[i].Histograms, h)
			}
		}
	}
	if e.Metadata != nil {
		c.Metadata = make([]prompb.MetricMetadata, len(e.Metadata))
		for i, md := range e.Metadata {
			c.Metadata[i] = prompb.MetricMetadata{Type: md.Type, MetricFamilyName: strings.Clone(md.MetricFamilyName),
				Help: strings.Clone(md.Help), Unit: strings.Clone(md.Unit)}
		}
	}
	return c
}

// CloneValue copies a field value: strings, maps and slices anew.
func CloneValue(v any) any {
	switch x := v.(type) {
	case string:
		return strings.Clone(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[strings.Clone(k)] = CloneValue(v)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, v := range x {
			a[i] = CloneValue(v)
		}
		return a
	}
	return v
}

func cloneLabels(ls []prompb.Label) []prompb.Label {
	if ls == nil {
		return nil
	}
	c := make([]prompb.Label, len(ls))
	for i, l := range ls {
		c[i] = prompb.Label{Name: strings.Clone(l.Name), Value: strings.Clone(l.Value)}
	}
	return c
}

func cloneStrings(ss []string) []string {
	if ss == nil {
		return nil
	}
	c := make([]string, len(ss))
	for i, s := range ss {
		c[i] = strings.Clone(s)
	}
	return c
}

// Samples returns how many samples a metric event holds.
func (e *Event) Samples() int {
	n := 0
	for i := range e.Series {
		n += len(e.Series[i].Samples) + len(e.Series[i].Histograms)
	}
	return n
}

// String returns a field as a string: strings as they are, numbers and
// bools formatted, other values as JSON; ok is false when it is absent.
func (e *Event) String(path string) (string, bool) {
	v, ok := e.Get(path)
	if !ok {
		return "", false
	}
	return Format(v), true
}

// LabelNameLess reports whether label name a sorts strictly before b, as
// Prometheus orders a series' labels. Names mostly differ in their first
// byte, which decides without a call to compare the strings: this is on
// the hot path of every check that labels are sorted.
func LabelNameLess(a, b string) bool {
	if a != "" && b != "" && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}
