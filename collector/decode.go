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

// decodeBatch decodes msgs; a message that cannot be decoded is skipped
// and reported to bad.
func decodeBatch(msgs []client.Message, bad func(error)) []*event.Event {
	size := 0
	for i := range msgs {
		size += len(msgs[i].Body)
	}
	// One copy of every body: log events' messages are substrings of it.
	buf := make([]byte, 0, size)
	for i := range msgs {
		buf = append(buf, msgs[i].Body...)
	}
	all := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is not written again
	slab := make([]event.Event, len(msgs))
	events := make([]*event.Event, 0, len(msgs))
	var box event.Boxer
	off := 0
	for i := range msgs {
		m := &msgs[i]
		body := all[off : off+len(m.Body)]
		off += len(m.Body)
		e := &slab[i]
		if err := decodeInto(e, m, body, &box); err != nil {
			bad(err)
			continue
		}
		events = append(events, e)
	}
	return events
}

// decodeInto makes e from m: a metric event for a WriteRequest body, a
// log event holding body (m.Body as a string) otherwise. Meta is the
// message's properties (the map is taken over, not copied) plus topic
// and key. The message is boxed by box.
func decodeInto(e *event.Event, m *client.Message, body string, box *event.Boxer) error {
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
		if series, md, ok := decodeWriteRequest(m.Body); ok {
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
	*e = event.Event{Kind: event.KindLog, Time: t, Fields: map[string]any{event.FieldMessage: box.String(body)}, Meta: meta}
	return nil
}
