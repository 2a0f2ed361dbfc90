package file

import (
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/event"
)

// group is the encoded events of one Write that go to one path, in the
// order they came.
type group struct {
	key  string // the expanded path, the index key
	path string // key, cleaned: the file
	buf  []byte
	// ends is the end offset in buf of each event, for splitting the
	// group at an event boundary when rotating by size.
	ends []int
	// written is how much of buf is in the file; a retried Write goes on
	// from there.
	written int
}

// Groups whose buffers are kept between Writes, and how many bytes of
// buffers in all: enough for the usual batch (a collector's poll of up
// to 16 MiB of bodies, whose events make more), without holding a big
// batch's memory forever. A buffer let go is made and zeroed again by
// the next Write that needs it.
const (
	keptGroups = 16
	keptBytes  = 32 << 20
)

// pathCache is the path of a template with no per-event part, valid for
// the times of one span of its finest unit.
type pathCache struct {
	valid      bool
	start, end time.Time // in UTC: the span the path holds for
	key        int64     // in other zones: the clock's key
	path       string
}

// groupEvents encodes events into groups by expanded path.
func (s *Sink) groupEvents(events []*event.Event) {
	var last *group
	total := 0
	for i, e := range events {
		g := s.groupFor(e, last)
		if i == 0 {
			g.buf = slices.Grow(g.buf, min(s.eventBytes*len(events)*9/8, maxPresize))
		}
		last = g
		n := len(g.buf)
		g.buf = s.appendEvent(g.buf, e)
		total += len(g.buf) - n
		if s.maxSize > 0 {
			g.ends = append(g.ends, len(g.buf))
		}
	}
	if len(events) > 0 {
		s.eventBytes = total / len(events)
	}
}

// maxPresize bounds the room a Write's first group starts with.
const maxPresize = 256 << 20

// groupFor returns the group of e's path; last is the previous event's
// group, the usual answer.
func (s *Sink) groupFor(e *event.Event, last *group) *group {
	var key string
	if s.tmpl.perEvent {
		var c clock
		if s.tmpl.unit != unitNone {
			c = clockOf(e.Time, s.loc, s.tmpl.yearDay)
		}
		s.pathBuf = s.tmpl.appendPath(s.pathBuf[:0], e, &c)
		if last != nil && last.key == string(s.pathBuf) {
			return last
		}
		if i, ok := s.index[string(s.pathBuf)]; ok {
			return s.groups[i]
		}
		key = string(s.pathBuf)
	} else {
		key = s.cachedPath(e.Time)
		if last != nil && last.key == key {
			return last
		}
		if i, ok := s.index[key]; ok {
			return s.groups[i]
		}
	}
	return s.newGroup(key)
}

func (s *Sink) newGroup(key string) *group {
	var g *group
	if n := len(s.groups); n < cap(s.groups) && s.groups[:n+1][n] != nil {
		s.groups = s.groups[:n+1]
		g = s.groups[n]
	} else {
		g = new(group)
		s.groups = append(s.groups, g)
	}
	g.key, g.path = key, filepath.Clean(key)
	s.index[key] = len(s.groups) - 1
	return g
}

// resetGroups empties the groups for the next Write.
func (s *Sink) resetGroups() {
	kept := 0
	for i, g := range s.groups {
		g.buf, g.ends, g.written = g.buf[:0], g.ends[:0], 0
		g.key, g.path = "", ""
		if kept += cap(g.buf); i >= keptGroups || kept > keptBytes {
			kept -= cap(g.buf)
			g.buf, g.ends = nil, nil
		}
	}
	s.groups = s.groups[:0]
	clear(s.index)
}

// cachedPath returns the path of a template without per-event parts for
// time t, expanding it only when t leaves the span of the cached one.
func (s *Sink) cachedPath(t time.Time) string {
	pc := &s.cache
	switch {
	case s.tmpl.unit == unitNone:
		if pc.valid {
			return pc.path
		}
	case s.loc == time.UTC:
		if pc.valid && !t.Before(pc.start) && t.Before(pc.end) {
			return pc.path
		}
	}
	c := clockOf(t, s.loc, s.tmpl.yearDay)
	switch {
	case s.tmpl.unit == unitNone:
	case s.loc == time.UTC:
		pc.start, pc.end = utcSpan(t, &c, s.tmpl.unit)
	default:
		// Daylight saving makes spans irregular: compare the clock.
		k := c.key(s.tmpl.unit)
		if pc.valid && pc.key == k {
			return pc.path
		}
		pc.key = k
	}
	pc.path, pc.valid = string(s.tmpl.appendPath(s.pathBuf[:0], nil, &c)), true
	return pc.path
}

// utcSpan is the span of unit that holds t, in UTC.
func utcSpan(t time.Time, c *clock, u timeUnit) (start, end time.Time) {
	var d time.Duration
	switch u {
	case unitYear:
		start = time.Date(c.year, 1, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(1, 0, 0)
	case unitMonth:
		start = time.Date(c.year, time.Month(c.month), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	case unitDay:
		d = 24 * time.Hour // the zero time is a UTC midnight
	case unitHour:
		d = time.Hour
	case unitMinute:
		d = time.Minute
	default:
		d = time.Second
	}
	start = t.UTC().Truncate(d)
	return start, start.Add(d)
}

// appendEvent appends e as the configured encoding writes it.
func (s *Sink) appendEvent(dst []byte, e *event.Event) []byte {
	switch {
	case s.json:
		dst = s.enc.Append(dst, e)
		return append(dst, '\n')
	case e.Kind == event.KindMetric:
		return appendSamples(dst, e)
	}
	if v, ok := e.Fields.Get(event.FieldMessage); !ok {
	} else if m, ok := v.(string); ok {
		dst = append(dst, m...)
	} else {
		dst = append(dst, event.Format(v)...)
	}
	return append(dst, '\n')
}

// appendSamples writes one line per sample in the Prometheus text
// exposition form, with the timestamp in milliseconds:
// name{label="value",...} value timestamp. A native histogram is written
// as its name_count and name_sum.
func appendSamples(dst []byte, e *event.Event) []byte {
	for i := range e.Series {
		ts := &e.Series[i]
		for _, smp := range ts.Samples {
			dst = appendSample(dst, ts.Labels, "", smp.Value, smp.Timestamp)
		}
		for j := range ts.Histograms {
			h := &ts.Histograms[j]
			count := float64(h.GetCountInt())
			if h.IsFloatHistogram() {
				count = h.GetCountFloat()
			}
			dst = appendSample(dst, ts.Labels, "_count", count, h.Timestamp)
			dst = appendSample(dst, ts.Labels, "_sum", h.Sum, h.Timestamp)
		}
	}
	return dst
}

func appendSample(dst []byte, labels []prompb.Label, suffix string, v float64, ms int64) []byte {
	for _, l := range labels {
		if l.Name == "__name__" {
			dst = append(dst, l.Value...)
			break
		}
	}
	dst = append(dst, suffix...)
	first := true
	for _, l := range labels {
		if l.Name == "__name__" {
			continue
		}
		if first {
			dst = append(dst, '{')
		} else {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, l.Name...)
		dst = append(dst, '=', '"')
		dst = appendLabelValue(dst, l.Value)
		dst = append(dst, '"')
	}
	if !first {
		dst = append(dst, '}')
	}
	dst = append(dst, ' ')
	dst = appendFloat(dst, v)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, '\n')
}

// appendLabelValue escapes as the exposition format does: \\, \" and \n.
func appendLabelValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}
