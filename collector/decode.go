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
// bodies, its events, their fields maps and their series. A pipeline
// hands it to the next batch once the sinks accepted this one
// (Sink.Write keeps nothing past its return, and processors that keep
// strings copy them), so that a stream of batches reuses it instead of
// making the garbage collector find and free ~1 KB per event.
type batchMem struct {
	buf    []byte
	slab   []event.Event
	events []*event.Event
	fields []map[string]any // made by decode; cleared on reuse
	used   int              // of fields, by the batch in hand
	wr     wrArena          // metric events' series
}

// maxReusedFields bounds the maps kept for reuse: one that an event grew
// past it is left to the garbage collector, not kept that large.
const maxReusedFields = 64

// Bounds of what a batchMem keeps between batches: a burst's huge polls
// leave their memory to the garbage collector instead of holding it
// through the quiet that follows.
const (
	maxKeptBodies = 16 << 20
	maxKeptEvents = 1 << 15
)

// trim readies m for the next batch once this one is delivered: it
// empties the fields maps handed out and drops every reference into the
// batch, so that a quiet pipeline holds no old batch alive, and lets go
// of memory grown past the bounds.
func (m *batchMem) trim() {
	for i, f := range m.fields[:m.used] {
		if len(f) > maxReusedFields {
			m.fields[i] = make(map[string]any, 8)
		} else {
			clear(f)
		}
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
	if cap(m.buf) > maxKeptBodies {
		m.buf = nil
	}
	m.wr.trim()
}

// fieldsMap returns an empty map for a log event's fields: one trim
// emptied, or a new one.
func (m *batchMem) fieldsMap() map[string]any {
	if m.used == len(m.fields) {
		m.fields = append(m.fields, make(map[string]any, 8))
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
// box; a log event's fields map and a metric event's series come from
// mem.
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
	fields := mem.fieldsMap()
	fields[event.FieldMessage] = box.String(body)
	*e = event.Event{Kind: event.KindLog, Time: t, Fields: fields, Meta: meta}
	return nil
}
