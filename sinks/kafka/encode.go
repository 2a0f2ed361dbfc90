package kafka

import (
	"github.com/sluicehq/sluice/pipelines/template"
	"slices"

	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/pipelines/event"
)

// encoder turns a batch of events into kafka.Messages whose keys, values
// and header values are slices of one buffer.
type encoder struct {
	topic, key template.Template
	json       bool // encoding: json (else text)
	headers    bool // headers_from_meta

	topics topicCache

	// Reused from batch to batch (see release).
	buf      []byte
	msgs     []kafka.Message
	spans    []span
	hdrs     []kafka.Header
	hdrVals  [][2]int
	metaKeys []string
}

// span is where a message's parts are while the buffer still grows (and
// may move): offsets into buf and indexes into hdrs.
type span struct {
	key, val   [2]int
	hdr0, hdr1 int
}

// encode returns the messages for events, and how many events were
// dropped because their topic expanded to nothing. The messages are
// valid until the next encode or release.
func (c *encoder) encode(events []*event.Event) ([]kafka.Message, int) {
	c.buf, c.msgs, c.spans, c.hdrs, c.hdrVals = c.buf[:0], c.msgs[:0], c.spans[:0], c.hdrs[:0], c.hdrVals[:0]
	literal, isLiteral := c.topic.Literal()
	dropped := 0
	for _, e := range events {
		topic := literal
		if !isLiteral {
			start := len(c.buf)
			c.buf = c.topic.AppendTo(c.buf, e)
			if len(c.buf) == start {
				dropped++
				continue
			}
			topic = c.topics.intern(sanitizeTopic(c.buf[start:]))
			c.buf = c.buf[:start]
		}
		var sp span
		sp.key[0] = len(c.buf)
		c.buf = c.key.AppendTo(c.buf, e)
		sp.key[1] = len(c.buf)
		sp.val[0] = len(c.buf)
		if c.json || e.Kind == event.KindMetric {
			c.buf = event.AppendJSON(c.buf, e)
		} else {
			c.buf = appendMessage(c.buf, e)
		}
		sp.val[1] = len(c.buf)
		sp.hdr0 = len(c.hdrs)
		if c.headers {
			c.appendHeaders(e)
		}
		sp.hdr1 = len(c.hdrs)
		c.msgs = append(c.msgs, kafka.Message{Topic: topic, Time: e.Time})
		c.spans = append(c.spans, sp)
	}
	// The buffer is final: point the messages into it.
	for i := range c.msgs {
		sp := &c.spans[i]
		m := &c.msgs[i]
		if sp.key[1] > sp.key[0] { // an empty key is no key: round-robin
			m.Key = c.buf[sp.key[0]:sp.key[1]:sp.key[1]]
		}
		m.Value = c.buf[sp.val[0]:sp.val[1]:sp.val[1]]
		if sp.hdr1 > sp.hdr0 {
			m.Headers = c.hdrs[sp.hdr0:sp.hdr1:sp.hdr1]
		}
	}
	for i := range c.hdrs {
		v := c.hdrVals[i]
		c.hdrs[i].Value = c.buf[v[0]:v[1]:v[1]]
	}
	return c.msgs, dropped
}

// appendHeaders adds e's meta as headers, sorted by key so that the same
// event always makes the same message.
func (c *encoder) appendHeaders(e *event.Event) {
	c.metaKeys = c.metaKeys[:0]
	for k := range e.Meta {
		c.metaKeys = append(c.metaKeys, k)
	}
	slices.Sort(c.metaKeys)
	for _, k := range c.metaKeys {
		start := len(c.buf)
		c.buf = append(c.buf, e.Meta[k]...)
		c.hdrs = append(c.hdrs, kafka.Header{Key: k})
		c.hdrVals = append(c.hdrVals, [2]int{start, len(c.buf)})
	}
	clear(c.metaKeys) // keep no event's strings alive
}

// release forgets the buffers, which kafka-go may still be reading after
// a Write that ended with its context; the next encode makes new ones.
func (c *encoder) release() {
	c.buf, c.msgs, c.hdrs = nil, nil, nil
}

// appendMessage appends the message field: a string as it is, another
// value (a parser may have put one there) as event.Format writes it.
func appendMessage(dst []byte, e *event.Event) []byte {
	switch v := e.Fields.Value(event.FieldMessage).(type) {
	case string:
		return append(dst, v...)
	case nil:
		return dst
	default:
		return append(dst, event.Format(v)...)
	}
}
