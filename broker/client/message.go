package client

import (
	"fmt"
	"slices"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice/broker/protocol"
)

// Message is what producers send and consumers receive.
type Message struct {
	Topic string
	// Key is optional. Messages with the same key go to the same queue, so
	// they are consumed in the order they were produced; the broker also
	// indexes keys (QueryKey).
	Key string
	// Tags is one string, as in RocketMQ; consumers filter on it.
	Tags       string
	Properties map[string]string
	// Shared, if set, are properties many messages share, encoded once
	// (NewProps); Properties and Extra win over them. Received messages
	// have them in Properties.
	Shared *Props
	// Extra is one more property, apart from Properties so that many
	// messages can share one Properties map while this differs per
	// message (a tailed line's offset). Sent as one of the properties,
	// in place of one of its name; received messages have it in
	// Properties.
	Extra Property
	Body  []byte
	// BornAt is when the message was made; zero means when it was sent.
	BornAt time.Time
	// DeliverAt asks for delayed delivery: the message is stored with this
	// time, and is not delivered before it once the broker implements
	// delays. Zero means at once.
	DeliverAt time.Time

	// Set on received messages.
	Queue    uint32
	Offset   int64
	ID       string // unique per broker; GetMessage finds the message by it
	StoredAt time.Time
}

// size is what a message counts against batch sizes and the producer's
// buffer: its encoded size, near enough.
func (m *Message) size() int {
	n := 16 + len(m.Key) + len(m.Tags) + len(m.Body)
	for k, v := range m.Properties {
		n += 2 + len(k) + len(v)
	}
	if m.Shared != nil {
		n += 2*m.Shared.Len() + m.Shared.EncodedLen()
	}
	return n + len(m.Extra.Name) + len(m.Extra.Value)
}

// Property is a property name and value; see Message.Extra.
type Property = protocol.Property

// Props are properties shared by many messages; see Message.Shared.
type Props = protocol.Props

// NewProps returns m as shared properties (a copy).
func NewProps(m map[string]string) *Props { return protocol.NewProps(m) }

// msToTime converts Unix milliseconds, keeping 0 as the zero time.
func msToTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// timeToMs converts a time to Unix milliseconds, the zero time to 0.
func timeToMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// minMessageBytes is the least an encoded message takes: its length,
// flags, born time, and the lengths of its key and tags, its property
// count and its body's length, a byte each.
const minMessageBytes = 7

// recordDecoder turns records, as fetched, into Messages.
type recordDecoder struct {
	from   int64               // messages below this offset are skipped
	filter *protocol.TagFilter // nil or All: every message
	out    []Message
	// The strings of the last key, tags and value of each property name:
	// the messages of a batch mostly repeat them (an agent's host and
	// file), and each would otherwise be an allocation per message.
	key, tags lastString
	props     []lastProperty
}

// lastString is a string remembered so as to be handed out again.
type lastString struct{ s string }

// of returns b as a string: the remembered one when it is the same.
func (l *lastString) of(b []byte) string {
	if l.s != string(b) {
		l.s = string(b)
	}
	return l.s
}

type lastProperty struct {
	name  string
	value lastString
}

// maxLastProperties bounds the property names a decoder remembers.
const maxLastProperties = 16

// property returns a property's name and value as strings, the ones
// of the last message that had them when they are the same.
func (d *recordDecoder) property(k, v []byte) (string, string) {
	for i := range d.props {
		if p := &d.props[i]; p.name == string(k) {
			return p.name, p.value.of(v)
		}
	}
	if len(d.props) == maxLastProperties {
		return string(k), string(v)
	}
	d.props = append(d.props, lastProperty{name: string(k), value: lastString{string(v)}})
	p := &d.props[len(d.props)-1]
	return p.name, p.value.s
}

// decodeRecord appends the messages of one record at log position pos
// (negative when unknown: the messages get no ID). Message bodies alias
// payload, or a buffer made for this record when it is compressed, so
// payload must not be reused.
func (d *recordDecoder) decodeRecord(h *protocol.RecordHeader, pos int64, payload []byte) error {
	if h.BaseOffset+int64(h.Count) <= d.from {
		return nil
	}
	raw, err := protocol.Decompress(h.Attr, payload, nil)
	if err != nil {
		return fmt.Errorf("batch %s/%d at offset %d: %w", h.Topic, h.Queue, h.BaseOffset, err)
	}
	var deliverAt time.Time
	if h.Attr&protocol.AttrDelayed != 0 {
		deliverAt = msToTime(h.DeliverAtMs)
	}
	storedAt := msToTime(h.StoredAtMs)
	// Room for the record's messages at once, and doubling for the next
	// records of the fetch: Message is large, and append's growth by a
	// quarter copied the messages of a fetch several times over. The
	// count is from the wire, so it is bounded by the bytes, each message
	// taking several.
	if n := min(int(h.Count), len(raw)/minMessageBytes); cap(d.out)-len(d.out) < n {
		d.out = slices.Grow(d.out, max(n, len(d.out)))
	}
	var ids []byte // the record's message IDs, one allocation for all
	if pos >= 0 {
		ids = make([]byte, 0, protocol.MessageIDLen*min(int(h.Count), len(raw)/minMessageBytes))
	}
	it := protocol.NewMessageIter(raw, h.FirstBornMs)
	var v protocol.MessageView
	var i uint32
	for ; it.Next(&v); i++ {
		off := h.BaseOffset + int64(i)
		if off < d.from || (d.filter != nil && !d.filter.Match(string(v.Tags))) {
			continue
		}
		m := Message{
			Topic: h.Topic, Key: d.key.of(v.Key), Tags: d.tags.of(v.Tags), Body: v.Body,
			BornAt: msToTime(v.BornMs), DeliverAt: deliverAt,
			Queue: h.Queue, Offset: off, StoredAt: storedAt,
		}
		if pos >= 0 {
			// ids is only appended to: the bytes of an ID never change.
			ids = protocol.AppendMessageID(ids, pos, i)
			m.ID = unsafe.String(&ids[len(ids)-protocol.MessageIDLen], protocol.MessageIDLen)
		}
		if n := v.NumProperties(); n > 0 {
			m.Properties = make(map[string]string, n)
			v.Properties(func(k, val []byte) {
				name, value := d.property(k, val)
				m.Properties[name] = value
			})
		}
		d.out = append(d.out, m)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("batch %s/%d at offset %d, message %d: %w", h.Topic, h.Queue, h.BaseOffset, i, err)
	}
	if i != h.Count {
		return fmt.Errorf("batch %s/%d at offset %d holds %d messages, its header says %d",
			h.Topic, h.Queue, h.BaseOffset, i, h.Count)
	}
	return nil
}
