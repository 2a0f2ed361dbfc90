package collector

import (
	"fmt"
	"unsafe"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/pipelines/event"
)

// ContentTypeWriteRequest marks a message whose body is a Prometheus
// remote-write WriteRequest (protobuf, not compressed), as the agent sends
// metrics.
const ContentTypeWriteRequest = "application/x-protobuf;proto=prometheus.WriteRequest"

// batchMem is the memory a batch is decoded into: the copy of its
// bodies, its events, their fields and their series. A pipeline
// hands it to the next batch once the sinks accepted this one
// (Sink.Write keeps nothing past its return, and processors that keep
// strings copy them), so that a stream of batches reuses it instead of
// making the garbage collector find and free ~1 KB per event.
type batchMem struct {
	buf    []byte
	slab   []event.Event
	events []*event.Event
	fields [][]event.Field // arrays for log events' fields; cleared by trim
	used   int             // of fields, by the batch in hand
	wr     wrArena         // metric events' series
}

// fieldsRoom is the fields an event holds before its array is
// outgrown (and a new one made, which the garbage collector takes).
const fieldsRoom = 16

// Bounds of what a batchMem keeps between batches: a burst's huge polls
// leave their memory to the garbage collector instead of holding it
// through the quiet that follows.
const (
	maxKeptBodies = 16 << 20
	maxKeptEvents = 1 << 15
)

// trim readies m for the next batch once this one is delivered: it
// drops every reference into the batch, so that a quiet pipeline holds
// no old batch alive, and lets go of memory grown past the bounds.
func (m *batchMem) trim() {
	for _, f := range m.fields[:m.used] {
		clear(f[:cap(f)])
	}
	m.used = 0
	if len(m.fields) > maxKeptEvents {
		clear(m.fields[maxKeptEvents:])
		m.fields = m.fields[:maxKeptEvents]
	}
	clear(m.slab)
	clear(m.events[:cap(m.events)])
	if cap(m.slab) > maxKeptEvents {
		m.slab, m.events = nil, nil
	}
	dropped := cap(m.buf) > maxKeptBodies
	if dropped {
		m.buf = nil
	}
	m.wr.trim(dropped)
}

// fieldsArray returns an array for a log event's fields: one trim
// cleared, or a new one.
func (m *batchMem) fieldsArray() []event.Field {
	if m.used == len(m.fields) {
		m.fields = append(m.fields, make([]event.Field, 0, fieldsRoom))
	}
	m.used++
	return m.fields[m.used-1]
}

// decodeBatch decodes msgs into mem (nil: fresh memory); a message that
// cannot be decoded is skipped and reported to bad.
func decodeBatch(msgs []client.Message, mem *batchMem, bad func(error)) []*event.Event {
	if mem == nil {
		mem = &batchMem{}
	}
	if mem.used != 0 { // not trimmed since its last batch
		mem.trim()
	}
	size := 0
	for i := range msgs {
		size += len(msgs[i].Body)
	}
	// One copy of every body: log events' messages are substrings of it.
	buf := mem.buf[:0]
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	for i := range msgs {
		buf = append(buf, msgs[i].Body...)
	}
	mem.buf = buf
	all := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is not written again while its events live
	if cap(mem.slab) < len(msgs) {
		mem.slab = make([]event.Event, len(msgs))
		mem.events = make([]*event.Event, 0, len(msgs))
	}
	slab, events := mem.slab[:len(msgs)], mem.events[:0]
	mem.wr.reset()
	var box event.Boxer
	off := 0
	for i := range msgs {
		m := &msgs[i]
		body := all[off : off+len(m.Body)]
		off += len(m.Body)
		e := &slab[i]
		if err := decodeInto(e, m, body, &box, mem); err != nil {
			bad(err)
			continue
		}
		events = append(events, e)
	}
	mem.events = events
	return events
}

// decodeInto makes e from m: a metric event for a WriteRequest body
// (m.Body as a string, whose substrings its labels are), a log event
// holding body otherwise. Meta is the message's properties (the map is
// taken over, not copied) plus topic and key. The message is boxed by
// box; a log event's fields and a metric event's series come from mem.
func decodeInto(e *event.Event, m *client.Message, body string, box *event.Boxer, mem *batchMem) error {
	meta := m.Properties
	if meta == nil {
		meta = make(map[string]string, 2)
	}
	meta[event.MetaTopic] = m.Topic
	if m.Key != "" {
		meta[event.MetaKey] = m.Key
	}
	t := m.BornAt
	if t.IsZero() {
		t = m.StoredAt
	}
	if meta["content-type"] == ContentTypeWriteRequest {
		if series, md, ok := decodeWriteRequestInto(body, &mem.wr); ok {
			*e = event.Event{Kind: event.KindMetric, Time: t, Meta: meta, Series: series, Metadata: md}
			return nil
		}
		var wr prompb.WriteRequest
		if err := wr.Unmarshal(m.Body); err != nil {
			return fmt.Errorf("message %s (topic %s queue %d offset %d): metrics body: %w", m.ID, m.Topic, m.Queue, m.Offset, err)
		}
		*e = event.Event{Kind: event.KindMetric, Time: t, Meta: meta, Series: wr.Timeseries, Metadata: wr.Metadata}
		return nil
	}
	*e = event.Event{Kind: event.KindLog, Time: t, Meta: meta}
	e.Fields.Reset(mem.fieldsArray())
	e.Fields.Set(event.FieldMessage, box.String(body))
	return nil
}
