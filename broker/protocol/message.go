package protocol

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"

	"github.com/pierrec/lz4/v4"

	"github.com/sluicehq/sluice/broker/store/record"
)

// MaxBatchRaw bounds the uncompressed size of one batch; a larger size
// read from the wire is refused before anything is allocated.
const MaxBatchRaw = 64 << 20

// Message is one message as a producer gives it.
type Message struct {
	Key        string
	Tags       string
	Properties map[string]string
	// Shared, if set, are properties many messages share (the host and
	// file of a tailed file's lines), encoded once: encoding a map per
	// message cost three map iterations, a fifth of an agent's CPU.
	// Properties and Extra win over Shared for a name they also have.
	Shared *Props
	// Extra is one more property, given apart from Properties so that
	// Properties can be one map shared by many messages while Extra
	// differs per message (a tailed line's offset): a map per message
	// would be most of what the agent allocates per line. It is encoded
	// as one of the properties, replacing one of the same name in
	// Properties; its Name is "" when there is none.
	Extra Property
	Body  []byte
	// BornMs is when the message was made (Unix ms); 0 means now.
	BornMs int64
}

// Property is a name and value; see Message.Extra.
type Property struct{ Name, Value string }

// BatchBuilder encodes messages into a batch payload. The zero value is
// ready after Reset. It is reused from batch to batch so that adding a
// message allocates nothing in the steady state.
type BatchBuilder struct {
	topic     string
	raw       []byte
	count     uint32
	firstBorn int64
	lastBorn  int64
	bloom     uint64
	keys      []record.KeyRef
	// lastKey and lastHash memoize KeyHash: consecutive messages tend to
	// share a key (the lines of one file), and hashing it byte by byte
	// was 6% of an agent's CPU.
	lastKey  string
	lastHash uint64
}

// compressors lends lz4's 136 KB hash tables to Finish. Each builder
// had its own, and a producer holds a builder per queue it writes to:
// a dozen idle tables was the largest part of an agent's live heap.
var compressors = sync.Pool{New: func() any { return new(lz4.Compressor) }}

// Reset empties the builder for a batch of topic.
func (b *BatchBuilder) Reset(topic string) {
	b.topic, b.raw, b.count, b.bloom, b.keys = topic, b.raw[:0], 0, 0, b.keys[:0]
	b.firstBorn, b.lastBorn = 0, 0
	b.lastKey = "" // its hash was under the old topic
}

// Count is the number of messages added.
func (b *BatchBuilder) Count() uint32 { return b.count }

// Size is the uncompressed size of the messages added.
func (b *BatchBuilder) Size() int { return len(b.raw) }

// Add appends m; bornMs is used when m.BornMs is 0.
func (b *BatchBuilder) Add(m *Message, bornMs int64) {
	if m.BornMs != 0 {
		bornMs = m.BornMs
	}
	if b.count == 0 {
		b.firstBorn, b.lastBorn = bornMs, bornMs
	}
	b.lastBorn = max(b.lastBorn, bornMs)
	if m.Key != "" {
		if m.Key != b.lastKey || b.lastKey == "" {
			b.lastKey, b.lastHash = m.Key, record.KeyHash(b.topic, m.Key)
		}
		b.keys = append(b.keys, record.KeyRef{Index: b.count, Hash: b.lastHash})
	}
	if m.Tags != "" {
		b.bloom |= record.TagBit(m.Tags)
	}
	nprops, propsLen := m.props()
	n := uvarintLen(0) + varintLen(bornMs-b.firstBorn) + strLen(m.Key) + strLen(m.Tags) +
		uvarintLen(uint64(nprops)) + propsLen + uvarintLen(uint64(len(m.Body))) + len(m.Body)
	b.raw = binary.AppendUvarint(b.raw, uint64(n))
	b.raw = binary.AppendUvarint(b.raw, 0) // flags: none defined yet
	b.raw = binary.AppendVarint(b.raw, bornMs-b.firstBorn)
	b.raw = appendStr(b.raw, m.Key)
	b.raw = appendStr(b.raw, m.Tags)
	b.raw = binary.AppendUvarint(b.raw, uint64(nprops))
	b.raw = m.appendProps(b.raw)
	b.raw = binary.AppendUvarint(b.raw, uint64(len(m.Body)))
	b.raw = append(b.raw, m.Body...)
	b.count++
}

// props returns how many properties m has, Shared and Extra included,
// and the size of their encoding.
func (m *Message) props() (count, size int) {
	if m.sharedAsIs() {
		count, size = len(m.Shared.names), len(m.Shared.enc)
	} else {
		m.rangeShared(func(k, v string) {
			count++
			size += strLen(k) + strLen(v)
		})
	}
	if len(m.Properties) > 0 { // ranging over even a nil map costs
		for k, v := range m.Properties {
			if k != m.Extra.Name || m.Extra.Name == "" {
				count++
				size += strLen(k) + strLen(v)
			}
		}
	}
	if m.Extra.Name != "" {
		count++
		size += strLen(m.Extra.Name) + strLen(m.Extra.Value)
	}
	return count, size
}

// appendProps appends m's properties: Shared, Properties, then Extra,
// each name once, the later winning.
func (m *Message) appendProps(dst []byte) []byte {
	if m.sharedAsIs() {
		dst = append(dst, m.Shared.enc...)
	} else {
		m.rangeShared(func(k, v string) {
			dst = appendStr(dst, k)
			dst = appendStr(dst, v)
		})
	}
	if len(m.Properties) > 0 {
		for k, v := range m.Properties {
			if k != m.Extra.Name || m.Extra.Name == "" {
				dst = appendStr(dst, k)
				dst = appendStr(dst, v)
			}
		}
	}
	if m.Extra.Name != "" {
		dst = appendStr(dst, m.Extra.Name)
		dst = appendStr(dst, m.Extra.Value)
	}
	return dst
}

// AppendProperties appends the count of m's properties and then them,
// as a batch holds them: uvarint count, then uvarint-length-prefixed
// names and values.
func (m *Message) AppendProperties(dst []byte) []byte {
	n, _ := m.props()
	dst = binary.AppendUvarint(dst, uint64(n))
	return m.appendProps(dst)
}

// sharedAsIs reports whether Shared's encoding can be copied as it is:
// no other property of m overrides one of it.
func (m *Message) sharedAsIs() bool {
	if m.Shared == nil || len(m.Properties) > 0 {
		return false
	}
	if m.Extra.Name == "" {
		return true
	}
	return !m.Shared.has(m.Extra.Name)
}

// rangeShared calls fn for the properties of Shared that Properties and
// Extra do not override.
func (m *Message) rangeShared(fn func(k, v string)) {
	if m.Shared == nil {
		return
	}
	for k, v := range m.Shared.m {
		if _, ok := m.Properties[k]; ok || (k == m.Extra.Name && k != "") {
			continue
		}
		fn(k, v)
	}
}

// Props is a set of properties encoded once for the many messages that
// share it (Message.Shared). It is immutable.
type Props struct {
	m     map[string]string
	names []string
	enc   []byte
}

// NewProps returns the properties of m, which it copies.
func NewProps(m map[string]string) *Props {
	p := &Props{m: make(map[string]string, len(m))}
	for k, v := range m {
		p.m[k] = v
		p.names = append(p.names, k)
		p.enc = appendStr(p.enc, k)
		p.enc = appendStr(p.enc, v)
	}
	return p
}

// has reports whether name is one of the properties. It is asked once
// per message sent with Extra: a scan of a few names, comparing lengths
// first, costs less than hashing the name.
func (p *Props) has(name string) bool {
	if len(p.names) > 8 {
		_, ok := p.m[name]
		return ok
	}
	for _, k := range p.names {
		if len(k) == len(name) && k == name {
			return true
		}
	}
	return false
}

// Get returns the property name ("" if there is none).
func (p *Props) Get(name string) string { return p.m[name] }

// Range calls fn for each property.
func (p *Props) Range(fn func(k, v string)) {
	for k, v := range p.m {
		fn(k, v)
	}
}

// Len is the number of properties.
func (p *Props) Len() int { return len(p.names) }

// EncodedLen is the size of their encoding.
func (p *Props) EncodedLen() int { return len(p.enc) }

// MergeProps returns the properties of a message with these parts, as a
// reader of it sees them: shared, overridden by props, overridden by
// extra. It returns props itself when there is nothing to merge.
func MergeProps(shared *Props, props map[string]string, extra Property) map[string]string {
	if shared == nil && extra.Name == "" {
		return props
	}
	n := len(props) + 1
	if shared != nil {
		n += len(shared.names)
	}
	out := make(map[string]string, n)
	if shared != nil {
		for k, v := range shared.m {
			out[k] = v
		}
	}
	for k, v := range props {
		out[k] = v
	}
	if extra.Name != "" {
		out[extra.Name] = extra.Value
	}
	return out
}

// Batch is a finished batch: the fields of a ProduceRequest but topic,
// queue and producer sequence.
type Batch struct {
	Count       uint32
	Attr        record.Attr
	FirstBornMs int64
	LastBornMs  int64
	TagBloom    uint64
	Keys        []record.KeyRef
	Payload     []byte
}

// Finish compresses the messages (when compress is set and it helps) into
// dst's storage and returns the batch. Keys alias the builder: use the
// batch before the next Reset.
func (b *BatchBuilder) Finish(compress bool, dst []byte) Batch {
	out := Batch{Count: b.count, FirstBornMs: b.firstBorn, LastBornMs: b.lastBorn,
		TagBloom: b.bloom, Keys: b.keys}
	if compress {
		bound := lz4.CompressBlockBound(len(b.raw)) + binary.MaxVarintLen64
		if cap(dst) < bound {
			dst = make([]byte, 0, bound)
		}
		dst = binary.AppendUvarint(dst[:0], uint64(len(b.raw)))
		comp := compressors.Get().(*lz4.Compressor)
		n, err := comp.CompressBlock(b.raw, dst[len(dst):bound])
		compressors.Put(comp)
		if err == nil && n > 0 && len(dst)+n < len(b.raw) {
			out.Attr |= record.AttrLZ4
			out.Payload = dst[:len(dst)+n]
			return out
		}
	}
	out.Payload = append(dst[:0], b.raw...)
	return out
}

// Decompress returns the raw messages of a payload, decompressing into
// scratch (grown as needed) when attr says lz4.
func Decompress(attr record.Attr, payload, scratch []byte) ([]byte, error) {
	if attr&record.AttrLZ4 == 0 {
		return payload, nil
	}
	n, k := binary.Uvarint(payload)
	if k <= 0 || k != uvarintLen(n) {
		return nil, fmt.Errorf("%w: bad raw length of lz4 batch", ErrBadBody)
	}
	if n == 0 {
		// Finish never compresses an empty batch, and lz4's amd64 decoder
		// writes through a nil dst (scratch[:0] of a nil scratch) instead
		// of failing: refuse before calling it.
		return nil, fmt.Errorf("%w: lz4 batch of 0 bytes", ErrBadBody)
	}
	if n > MaxBatchRaw {
		return nil, fmt.Errorf("%w: batch of %d bytes exceeds %d", ErrBadBody, n, MaxBatchRaw)
	}
	// lz4 expands at most 255-fold; anything claiming more is corrupt.
	if n > uint64(len(payload)-k)*255+16 {
		return nil, fmt.Errorf("%w: %d compressed bytes cannot hold %d", ErrBadBody, len(payload)-k, n)
	}
	if uint64(cap(scratch)) < n {
		scratch = make([]byte, n)
	}
	scratch = scratch[:n]
	got, err := lz4.UncompressBlock(payload[k:], scratch)
	if err != nil {
		return nil, fmt.Errorf("%w: lz4: %w", ErrBadBody, err)
	}
	if uint64(got) != n {
		return nil, fmt.Errorf("%w: lz4 gave %d bytes, header says %d", ErrBadBody, got, n)
	}
	return scratch, nil
}

// MessageView is a decoded message whose fields alias the batch.
type MessageView struct {
	Key    []byte
	Tags   []byte
	Body   []byte
	BornMs int64
	props  []byte
	nprops int
}

// Properties calls fn for each property.
func (m *MessageView) Properties(fn func(k, v []byte)) {
	b := m.props // Next checked every length: they are read unchecked
	for range m.nprops {
		var k, v []byte
		k, b = checkedField(b)
		v, b = checkedField(b)
		fn(k, v)
	}
}

// checkedField splits off b a length-prefixed field whose length was
// checked already.
func checkedField(b []byte) (field, rest []byte) {
	n, l := uint64(b[0]), 1
	if n >= 0x80 {
		n, l = binary.Uvarint(b)
	}
	end := l + int(n)
	return b[l:end:end], b[end:]
}

// Property returns the value of property name, or "".
func (m *MessageView) Property(name string) string {
	var out string
	m.Properties(func(k, v []byte) {
		if string(k) == name {
			out = string(v)
		}
	})
	return out
}

// Message copies the view into a Message.
func (m *MessageView) Message() Message {
	out := Message{Key: string(m.Key), Tags: string(m.Tags), Body: append([]byte(nil), m.Body...), BornMs: m.BornMs}
	if m.nprops > 0 {
		out.Properties = make(map[string]string, m.nprops)
		m.Properties(func(k, v []byte) { out.Properties[string(k)] = string(v) })
	}
	return out
}

// MessageIter walks the raw messages of a batch.
type MessageIter struct {
	raw       []byte
	firstBorn int64
	err       error
}

// NewMessageIter iterates raw (from Decompress) of a batch whose first
// message was born at firstBornMs.
func NewMessageIter(raw []byte, firstBornMs int64) MessageIter {
	return MessageIter{raw: raw, firstBorn: firstBornMs}
}

// Next decodes the next message into m and reports whether there was one.
// Check Err after the last.
func (it *MessageIter) Next(m *MessageView) bool {
	if it.err != nil || len(it.raw) == 0 {
		return false
	}
	d := dec{b: it.raw}
	rec := d.bytes("message")
	if d.err != nil {
		it.err = d.err
		return false
	}
	it.raw = d.b
	md := dec{b: rec}
	// A flag defined later may change how the rest reads: refuse rather
	// than misread.
	if f := md.uvarint("flags"); f != 0 {
		md.fail("unknown message flags")
	}
	m.BornMs = it.firstBorn + varint(&md)
	m.Key = md.bytes("key")
	m.Tags = md.bytes("tags")
	m.nprops = md.count("properties", 2)
	start := md.b
	for range m.nprops {
		md.bytes("property key")
		md.bytes("property value")
	}
	m.props = start[:len(start)-len(md.b)]
	m.Body = md.bytes("body")
	if err := md.end(); err != nil {
		it.err = err
		return false
	}
	return true
}

// NumProperties returns how many properties the message has.
func (m *MessageView) NumProperties() int { return m.nprops }

// Err returns the first decoding error.
func (it *MessageIter) Err() error { return it.err }

func varint(d *dec) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != varintLen(v) {
		d.fail("bad born time")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

func strLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

// MessageID is the ID of message index of the batch at log position pos
// (not negative): unique per broker, and enough to find the message again.
// It is 16 upper-case hex digits of pos followed by 8 of index.
func MessageID(pos int64, index uint32) string {
	return string(AppendMessageID(make([]byte, 0, MessageIDLen), pos, index))
}

// MessageIDLen is the length of a MessageID.
const MessageIDLen = 24

// AppendMessageID appends MessageID(pos, index) to dst.
func AppendMessageID(dst []byte, pos int64, index uint32) []byte {
	var b [MessageIDLen]byte
	const hex = "0123456789ABCDEF"
	for i := 15; i >= 0; i-- {
		b[i] = hex[pos&15]
		pos >>= 4
	}
	for i := 23; i >= 16; i-- {
		b[i] = hex[index&15]
		index >>= 4
	}
	return append(dst, b[:]...)
}

// ParseMessageID reverses MessageID. Lower-case digits are accepted too,
// for people who type IDs.
func ParseMessageID(id string) (pos int64, index uint32, err error) {
	if len(id) != 24 {
		return 0, 0, fmt.Errorf("message id %q: want 24 hex digits", id)
	}
	p, err1 := strconv.ParseUint(id[:16], 16, 63)
	i, err2 := strconv.ParseUint(id[16:], 16, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("message id %q: want 24 hex digits", id)
	}
	return int64(p), uint32(i), nil
}
