package loki

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
	"github.com/sluicehq/sluice/pipelines/httpclient"
	"github.com/sluicehq/sluice/pipelines/template"
)

// Sink pushes log events to Loki. Write is not called concurrently, so
// the buffers below are reused from one Write to the next.
type Sink struct {
	send       *httpclient.BatchSender
	labels     []namedTemplate // sorted by name
	meta       []namedTemplate // structured metadata, sorted by name
	json       bool
	batchBytes int

	notLogs  *metrics.Counter
	noLabels *metrics.Counter

	streamIDs map[string]int // label set (its JSON) → index in streams
	streams   []stream
	entries   []entry
	sorted    []entry // where order puts entries
	key       []byte  // the label set being built
	line      []byte  // the entry being encoded
	scratch   []byte  // a template's or the event's JSON before escaping
	body      []byte
}

type namedTemplate struct {
	name string
	tmpl template.Template
}

// stream is a label set of a Write and how many entries it has.
type stream struct {
	labels string // the JSON object
	count  int
	next   int // order's cursor
}

// entry is one event of a Write, in the stream it goes to.
type entry struct {
	stream int
	ts     int64 // Unix ns
	ev     *event.Event
}

// New returns a Loki sink; cfg must have passed Validate.
func New(cfg Config, set component.Settings) (*Sink, error) {
	url, err := pushURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	labelsCfg := cfg.Labels
	if labelsCfg == nil {
		labelsCfg = DefaultLabels
	}
	labels, err := parseTemplates("labels", labelsCfg)
	if err != nil {
		return nil, err
	}
	meta, err := parseTemplates("structured_metadata", cfg.StructuredMetadata)
	if err != nil {
		return nil, err
	}
	header := http.Header{"Content-Type": {"application/json"}}
	if cfg.TenantID != "" {
		header.Set("X-Scope-OrgID", cfg.TenantID)
	}
	send, err := httpclient.NewBatchSender(cfg.Batching, "loki", http.MethodPost, "push", url, header, set)
	if err != nil {
		return nil, err
	}
	name := component.Label(set.Name)
	counter := func(series string) *metrics.Counter {
		return set.Metrics.GetOrCreateCounter(fmt.Sprintf(series, name))
	}
	return &Sink{
		send:       send,
		labels:     labels,
		meta:       meta,
		json:       cfg.Encoding == "json",
		batchBytes: send.BatchBytes(),
		notLogs:    counter(`sluice_collector_sink_events_dropped_total{sink="%s",reason="not_logs"}`),
		noLabels:   counter(`sluice_collector_sink_events_dropped_total{sink="%s",reason="no_labels"}`),
		streamIDs:  map[string]int{},
	}, nil
}

func parseTemplates(key string, m map[string]string) ([]namedTemplate, error) {
	out := make([]namedTemplate, 0, len(m))
	for name, s := range m {
		if !validLabelName(name) {
			return nil, component.Errorf(key+"."+name, "%q is not a valid label name", name)
		}
		t, err := template.Parse(s)
		if err != nil {
			return nil, component.Errorf(key+"."+name, "%v", err)
		}
		out = append(out, namedTemplate{name, t})
	}
	slices.SortFunc(out, func(a, b namedTemplate) int { return cmp.Compare(a.name, b.name) })
	return out, nil
}

// Write pushes the log events of events to Loki.
func (s *Sink) Write(ctx context.Context, events []*event.Event) error {
	defer s.reset()
	s.group(events)
	if len(s.entries) == 0 {
		return nil
	}
	s.order()
	return s.pushAll(ctx)
}

// order sorts s.entries by stream, in the order streams first appeared,
// and each stream's entries by time, entries of the same time keeping
// the batch's order. A counting sort groups the streams (it keeps the
// batch's order within each); a stream is then sorted only if it is not
// in time order already, which events read from one file seldom need.
func (s *Sink) order() {
	start := 0
	for i := range s.streams {
		s.streams[i].next = start
		start += s.streams[i].count
	}
	s.sorted = slices.Grow(s.sorted[:0], len(s.entries))[:len(s.entries)]
	for _, en := range s.entries {
		st := &s.streams[en.stream]
		s.sorted[st.next] = en
		st.next++
	}
	s.entries, s.sorted = s.sorted, s.entries
	start = 0
	for _, st := range s.streams {
		run := s.entries[start : start+st.count]
		if !slices.IsSortedFunc(run, byTime) {
			slices.SortStableFunc(run, byTime)
		}
		start += st.count
	}
}

func byTime(a, b entry) int { return cmp.Compare(a.ts, b.ts) }

// group sorts the log events into streams; other events are dropped and
// counted.
func (s *Sink) group(events []*event.Event) {
	now := time.Now().UnixNano()
	for _, e := range events {
		if e.Kind != event.KindLog {
			s.notLogs.Inc()
			continue
		}
		s.key = s.appendLabels(s.key[:0], e)
		if len(s.key) == len("{}") {
			s.noLabels.Inc()
			continue
		}
		id, ok := s.streamIDs[string(s.key)]
		if !ok {
			id = len(s.streams)
			key := string(s.key)
			s.streamIDs[key] = id
			s.streams = append(s.streams, stream{labels: key})
		}
		s.streams[id].count++
		ts := now
		if !e.Time.IsZero() {
			ts = e.Time.UnixNano()
		}
		s.entries = append(s.entries, entry{stream: id, ts: ts, ev: e})
	}
}

// reset forgets the Write's streams and events, keeping the buffers.
func (s *Sink) reset() {
	clear(s.streamIDs)
	s.streams = s.streams[:0]
	clear(s.entries) // the events are not ours to keep alive
	s.entries = s.entries[:0]
	clear(s.sorted)
	s.sorted = s.sorted[:0]
	if cap(s.body) > 4*s.batchBytes {
		s.body = nil // an oversized entry grew it; do not hold on to that
	}
}

// appendLabels appends e's label set as a JSON object, names sorted,
// labels that expand empty left out.
func (s *Sink) appendLabels(dst []byte, e *event.Event) []byte {
	return s.appendObject(append(dst, '{'), s.labels, e)
}

// appendObject appends the non-empty expansions of ts as members of a
// JSON object already opened in dst, and closes it.
func (s *Sink) appendObject(dst []byte, ts []namedTemplate, e *event.Event) []byte {
	empty := true
	for i := range ts {
		s.scratch = ts[i].tmpl.AppendTo(s.scratch[:0], e)
		if len(s.scratch) == 0 {
			continue
		}
		if !empty {
			dst = append(dst, ',')
		}
		empty = false
		dst = event.AppendString(dst, ts[i].name)
		dst = append(dst, ':')
		dst = event.AppendString(dst, bytesString(s.scratch))
	}
	return append(dst, '}')
}

// Close releases the sink's idle connections. Write keeps nothing
// pending between calls, so there is nothing to flush.
func (s *Sink) Close(context.Context) error {
	s.send.CloseIdle()
	return nil
}
