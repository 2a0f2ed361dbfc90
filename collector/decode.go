package collector

import (
	"fmt"
	"maps"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/pipelines/event"
)

// ContentTypeWriteRequest marks a message whose body is a Prometheus
// remote-write WriteRequest (protobuf, not compressed), as the agent sends
// metrics.
const ContentTypeWriteRequest = "application/x-protobuf;proto=prometheus.WriteRequest"

// decode turns a message into an event: a metric event for a
// WriteRequest body, a log event holding the body as its message
// otherwise. Meta is the message's properties plus topic and key.
func decode(m *client.Message) (*event.Event, error) {
	meta := make(map[string]string, len(m.Properties)+2)
	maps.Copy(meta, m.Properties)
	meta[event.MetaTopic] = m.Topic
	if m.Key != "" {
		meta[event.MetaKey] = m.Key
	}
	t := m.BornAt
	if t.IsZero() {
		t = m.StoredAt
	}
	if m.Properties["content-type"] == ContentTypeWriteRequest {
		if series, md, ok := decodeWriteRequest(m.Body); ok {
			return &event.Event{Kind: event.KindMetric, Time: t, Meta: meta, Series: series, Metadata: md}, nil
		}
		var wr prompb.WriteRequest
		if err := wr.Unmarshal(m.Body); err != nil {
			return nil, fmt.Errorf("message %s (topic %s queue %d offset %d): metrics body: %w", m.ID, m.Topic, m.Queue, m.Offset, err)
		}
		return &event.Event{Kind: event.KindMetric, Time: t, Meta: meta, Series: wr.Timeseries, Metadata: wr.Metadata}, nil
	}
	return event.NewLog(string(m.Body), t, meta), nil
}
