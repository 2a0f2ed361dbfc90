package server

import (
	"fmt"

	"github.com/sluicehq/sluice/broker/protocol"
)

// messageJSON is a message as the HTTP API shows it, with the fields
// DESIGN.md lists for `consume --format json`.
type messageJSON struct {
	ID          string            `json:"id"`
	Topic       string            `json:"topic"`
	Queue       uint32            `json:"queue"`
	Offset      int64             `json:"offset"`
	Key         string            `json:"key"`
	Tags        string            `json:"tags"`
	Properties  map[string]string `json:"properties"`
	Body        string            `json:"body"`
	BornAt      string            `json:"born_at"`
	StoredAt    string            `json:"stored_at"`
	DeliveredAt string            `json:"delivered_at,omitempty"`
}

// decodeFound decodes the message a FoundMessage points at from its record.
func decodeFound(fm protocol.FoundMessage) (messageJSON, error) {
	var out messageJSON
	found := false
	err := protocol.EachRecord(fm.Record, func(h *protocol.RecordHeader, payload []byte) error {
		index := fm.Offset - h.BaseOffset
		if index < 0 || index >= int64(h.Count) {
			return fmt.Errorf("offset %d: %w", fm.Offset, errNoMessage)
		}
		raw, err := protocol.Decompress(h.Attr, payload, nil)
		if err != nil {
			return err
		}
		it := protocol.NewMessageIter(raw, h.FirstBornMs)
		var mv protocol.MessageView
		for i := int64(0); it.Next(&mv); i++ {
			if i != index {
				continue
			}
			out = messageJSON{
				ID: protocol.MessageID(fm.Pos, uint32(index)), Topic: h.Topic, Queue: h.Queue,
				Offset: fm.Offset, Key: string(mv.Key), Tags: string(mv.Tags), Properties: map[string]string{},
				Body: string(mv.Body), BornAt: formatMs(mv.BornMs), StoredAt: formatMs(h.StoredAtMs),
			}
			mv.Properties(func(k, v []byte) { out.Properties[string(k)] = string(v) })
			if h.DeliverAtMs > 0 {
				out.DeliveredAt = formatMs(h.DeliverAtMs)
			}
			found = true
			return nil
		}
		if err := it.Err(); err != nil {
			return err
		}
		return fmt.Errorf("offset %d: %w", fm.Offset, errNoMessage)
	})
	if err == nil && !found {
		err = fmt.Errorf("offset %d: %w", fm.Offset, errNoMessage)
	}
	if err != nil {
		return messageJSON{}, fmt.Errorf("decode message %s/%d@%d: %w", fm.Topic, fm.Queue, fm.Offset, err)
	}
	return out, nil
}
