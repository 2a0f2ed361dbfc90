package stdout

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// The process's streams are shared by every stdout sink; each has one
// lock so that one batch is written whole.
var (
	stdoutMu sync.Mutex
	stderrMu sync.Mutex
)

// Sink prints events. Write is not safe for concurrent use (the collector
// never calls it concurrently).
type Sink struct {
	name  string
	w     io.Writer
	mu    *sync.Mutex
	json  bool
	buf   []byte
	bytes *metrics.Counter
}

var _ component.Sink = (*Sink)(nil)

// New returns a Sink printing to the process's stdout or stderr, as
// cfg.Target says.
func New(cfg Config, set component.Settings) (*Sink, error) {
	if cfg.Target == "stderr" {
		return newSink(cfg, set, os.Stderr, &stderrMu)
	}
	return newSink(cfg, set, os.Stdout, &stdoutMu)
}

// NewWriter returns a Sink printing to w instead of the target stream
// (cfg.Target is ignored); for tests and embedding. w is not closed.
func NewWriter(cfg Config, set component.Settings, w io.Writer) (*Sink, error) {
	return newSink(cfg, set, w, new(sync.Mutex))
}

func newSink(cfg Config, set component.Settings, w io.Writer, mu *sync.Mutex) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("stdout sink %s: %w", set.Name, err)
	}
	return &Sink{
		name: set.Name, w: w, mu: mu, json: cfg.Format == "json",
		bytes: set.Metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_collector_sink_stdout_bytes_total{sink="%s"}`, component.Label(set.Name))),
	}, nil
}

// Write prints the batch with one write to the stream.
func (s *Sink) Write(ctx context.Context, events []*event.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	buf := s.buf[:0]
	for _, e := range events {
		buf = s.appendEvent(buf, e)
	}
	s.buf = buf
	if len(buf) == 0 {
		return nil
	}
	if len(buf) > 1<<20 { // keep no huge buffer between batches
		s.buf = nil
	}
	s.mu.Lock()
	n, err := s.w.Write(buf)
	s.mu.Unlock()
	s.bytes.Add(n)
	if err != nil {
		return fmt.Errorf("stdout sink %s: write %d events: %w", s.name, len(events), err)
	}
	return nil
}

func (s *Sink) appendEvent(buf []byte, e *event.Event) []byte {
	switch {
	case s.json:
		buf = event.AppendJSON(buf, e)
		return append(buf, '\n')
	case e.Kind == event.KindMetric:
		return appendSamples(buf, e)
	}
	buf = e.Time.UTC().AppendFormat(buf, time.RFC3339)
	buf = append(buf, ' ')
	switch v := e.Fields.Value(event.FieldMessage).(type) {
	case string:
		buf = append(buf, v...)
	case nil:
	default: // a parser may have put another value there
		buf = append(buf, event.Format(v)...)
	}
	return append(buf, '\n')
}

// appendSamples prints one line per sample: time, series, value.
func appendSamples(buf []byte, e *event.Event) []byte {
	for i := range e.Series {
		ts := &e.Series[i]
		for _, smp := range ts.Samples {
			buf = time.UnixMilli(smp.Timestamp).UTC().AppendFormat(buf, time.RFC3339)
			buf = append(buf, ' ')
			buf = appendSeries(buf, ts.Labels)
			buf = append(buf, ' ')
			buf = appendValue(buf, smp.Value)
			buf = append(buf, '\n')
		}
	}
	return buf
}

// appendSeries prints labels as Prometheus does: name{label="value",...},
// __name__ first as the name.
func appendSeries(buf []byte, labels []prompb.Label) []byte {
	for _, l := range labels {
		if l.Name == "__name__" {
			buf = append(buf, l.Value...)
		}
	}
	buf = append(buf, '{')
	first := true
	for _, l := range labels {
		if l.Name == "__name__" {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, l.Name...)
		buf = append(buf, '=')
		buf = strconv.AppendQuote(buf, l.Value)
	}
	return append(buf, '}')
}

func appendValue(buf []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(buf, "NaN"...)
	case math.IsInf(v, 1):
		return append(buf, "+Inf"...)
	case math.IsInf(v, -1):
		return append(buf, "-Inf"...)
	}
	return strconv.AppendFloat(buf, v, 'g', -1, 64)
}

// Close does nothing: the process's streams stay open, and a writer given
// to NewWriter belongs to its caller.
func (s *Sink) Close(context.Context) error { return nil }
