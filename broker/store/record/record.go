package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

const (
	// Magic starts every record.
	Magic uint32 = 0x31524c53 // "SLR1" little-endian
	// Version is the only record version this package writes and reads.
	Version = 1
	// HeaderSize is the fixed part of the header, before the topic.
	HeaderSize = 92
	// KeyRefSize is the size of one entry of the key section.
	KeyRefSize = 12
	// MaxTopicLen bounds topic names.
	MaxTopicLen = 255
	// MaxSize bounds a whole record; anything larger is corrupt or hostile.
	MaxSize = 64 << 20
)

// Attr is the set of attribute flags of a batch.
type Attr uint8

const (
	// AttrLZ4 marks a payload compressed with lz4 (frame format).
	AttrLZ4 Attr = 1 << 0
	// AttrTransactional marks a batch that belongs to a transaction.
	AttrTransactional Attr = 1 << 1
	// AttrDelayed marks a batch whose messages are delivered at DeliverAt.
	AttrDelayed Attr = 1 << 2

	knownAttrs = AttrLZ4 | AttrTransactional | AttrDelayed
)

// KeyRef says that message Index of the batch has a key whose hash is Hash.
type KeyRef struct {
	Index uint32
	Hash  uint64
}

// Header is everything in a record but the payload.
type Header struct {
	Length      uint32 // whole record, filled in by Encode and Decode
	Attr        Attr
	Topic       string
	Queue       uint32
	Count       uint32 // messages in the batch, at least 1
	BaseOffset  int64  // queue offset of the first message
	ProducerID  uint64
	Sequence    uint64
	FirstBornMs int64
	LastBornMs  int64
	StoredAtMs  int64
	DeliverAtMs int64
	TagBloom    uint64
	Keys        []KeyRef
}

// ErrCorrupt is the root of every decoding error: the bytes are not a valid
// record. Callers add where the bytes came from.
var ErrCorrupt = errors.New("corrupt record")

// ErrShort means buf ends before the record does: at the tail of a log this
// is a torn or unfinished write, not corruption in the middle.
var ErrShort = fmt.Errorf("%w: truncated", ErrCorrupt)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Size returns the encoded size of a record with this header and a payload of
// payloadLen bytes.
func (h *Header) Size(payloadLen int) int {
	return HeaderSize + len(h.Topic) + KeyRefSize*len(h.Keys) + payloadLen
}

// Validate checks the fields a producer controls.
func (h *Header) Validate(payloadLen int) error {
	switch {
	case h.Topic == "":
		return errors.New("empty topic")
	case len(h.Topic) > MaxTopicLen:
		return fmt.Errorf("topic is %d bytes, the limit is %d", len(h.Topic), MaxTopicLen)
	case h.Count == 0:
		return errors.New("batch has no messages")
	case h.Attr&^knownAttrs != 0:
		return fmt.Errorf("unknown attribute bits %#x", uint8(h.Attr&^knownAttrs))
	case h.Size(payloadLen) > MaxSize:
		return fmt.Errorf("record of %d bytes exceeds the %d byte limit", h.Size(payloadLen), MaxSize)
	}
	for _, k := range h.Keys {
		if k.Index >= h.Count {
			return fmt.Errorf("key for message %d in a batch of %d", k.Index, h.Count)
		}
	}
	return nil
}

// AppendHeader appends the encoded header for a payload of payloadLen bytes
// to dst. The CRC field is left zero: call Seal once the payload follows.
func AppendHeader(dst []byte, h *Header, payloadLen int) []byte {
	start := len(dst)
	size := h.Size(payloadLen)
	dst = binary.LittleEndian.AppendUint32(dst, Magic)
	dst = binary.LittleEndian.AppendUint32(dst, 0) // crc, set by Seal
	dst = binary.LittleEndian.AppendUint32(dst, uint32(size))
	dst = append(dst, Version, byte(h.Attr))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(h.Topic)))
	dst = binary.LittleEndian.AppendUint32(dst, h.Queue)
	dst = binary.LittleEndian.AppendUint32(dst, h.Count)
	for _, v := range [...]uint64{uint64(h.BaseOffset), h.ProducerID, h.Sequence,
		uint64(h.FirstBornMs), uint64(h.LastBornMs), uint64(h.StoredAtMs),
		uint64(h.DeliverAtMs), h.TagBloom} {
		dst = binary.LittleEndian.AppendUint64(dst, v)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h.Keys)))
	dst = append(dst, h.Topic...)
	for _, k := range h.Keys {
		dst = binary.LittleEndian.AppendUint32(dst, k.Index)
		dst = binary.LittleEndian.AppendUint64(dst, k.Hash)
	}
	_ = dst[start+HeaderSize-1]
	return dst
}

// Seal computes the CRC of a complete encoded record in place. The CRC may be
// computed in parts: Seal(rec) equals sealing with CRC(rec[8:hdr]) extended
// by the payload, which is what SealParts does without copying the payload.
func Seal(rec []byte) {
	binary.LittleEndian.PutUint32(rec[4:8], crc32.Checksum(rec[8:], castagnoli))
}

// SealParts sets the CRC in hdr (an encoded header without its payload) for a
// record whose payload is payload, so the payload need not be copied next to
// the header before it is written.
func SealParts(hdr, payload []byte) {
	c := crc32.Update(crc32.Checksum(hdr[8:], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(hdr[4:8], c)
}

// Encode returns a whole record: header and payload, sealed.
func Encode(dst []byte, h *Header, payload []byte) []byte {
	start := len(dst)
	dst = AppendHeader(dst, h, len(payload))
	dst = append(dst, payload...)
	Seal(dst[start:])
	return dst
}

// PeekLength reads the length of the record at the start of buf, which must
// hold at least 12 bytes. It checks the magic and the bounds of the length,
// so a caller can size a read before trusting the rest.
func PeekLength(buf []byte) (int, error) {
	if len(buf) < 12 {
		return 0, ErrShort
	}
	if m := binary.LittleEndian.Uint32(buf); m != Magic {
		return 0, fmt.Errorf("%w: bad magic %#08x", ErrCorrupt, m)
	}
	n := binary.LittleEndian.Uint32(buf[8:])
	if n < HeaderSize || n > MaxSize {
		return 0, fmt.Errorf("%w: length %d out of range", ErrCorrupt, n)
	}
	return int(n), nil
}

// PeekCount reads the length and the message count of the record at the
// start of buf, checking no more than PeekLength does: a reader sizing
// its output before it decodes the records, which Decode then checks.
func PeekCount(buf []byte) (length, count int, err error) {
	n, err := PeekLength(buf)
	if err != nil {
		return 0, 0, err
	}
	if len(buf) < HeaderSize {
		return 0, 0, ErrShort
	}
	return n, int(binary.LittleEndian.Uint32(buf[20:])), nil
}

// Decode checks the record at the start of buf and returns its header and
// payload. The payload aliases buf. keys, if it has capacity, is reused for
// the key section so that a reader can decode without allocating.
func Decode(buf []byte, keys []KeyRef) (Header, []byte, error) {
	n, err := PeekLength(buf)
	if err != nil {
		return Header{}, nil, err
	}
	if len(buf) < n {
		return Header{}, nil, ErrShort
	}
	rec := buf[:n]
	if want, got := binary.LittleEndian.Uint32(rec[4:]), crc32.Checksum(rec[8:], castagnoli); want != got {
		return Header{}, nil, fmt.Errorf("%w: crc %#08x, computed %#08x", ErrCorrupt, want, got)
	}
	return decodeChecked(rec, keys)
}

// DecodeHeader decodes the header of a record whose CRC has been or will be
// checked elsewhere (hdr holds at least the header, topic and key section).
func DecodeHeader(hdr []byte, keys []KeyRef) (Header, error) {
	n, err := PeekLength(hdr)
	if err != nil {
		return Header{}, err
	}
	h, _, err := decodeFields(hdr, n, keys)
	return h, err
}

func decodeChecked(rec []byte, keys []KeyRef) (Header, []byte, error) {
	h, off, err := decodeFields(rec, len(rec), keys)
	if err != nil {
		return Header{}, nil, err
	}
	return h, rec[off:], nil
}

// decodeFields decodes the header of a record of length n from buf, which
// must hold at least the header, topic and keys. It returns where the
// payload starts.
func decodeFields(buf []byte, n int, keys []KeyRef) (Header, int, error) {
	if len(buf) < HeaderSize {
		return Header{}, 0, ErrShort
	}
	le := binary.LittleEndian
	if v := buf[12]; v != Version {
		return Header{}, 0, fmt.Errorf("%w: unknown version %d", ErrCorrupt, v)
	}
	h := Header{
		Length:      uint32(n),
		Attr:        Attr(buf[13]),
		Queue:       le.Uint32(buf[16:]),
		Count:       le.Uint32(buf[20:]),
		BaseOffset:  int64(le.Uint64(buf[24:])),
		ProducerID:  le.Uint64(buf[32:]),
		Sequence:    le.Uint64(buf[40:]),
		FirstBornMs: int64(le.Uint64(buf[48:])),
		LastBornMs:  int64(le.Uint64(buf[56:])),
		StoredAtMs:  int64(le.Uint64(buf[64:])),
		DeliverAtMs: int64(le.Uint64(buf[72:])),
		TagBloom:    le.Uint64(buf[80:]),
	}
	topicLen := int(le.Uint16(buf[14:]))
	nkeys := le.Uint32(buf[88:])
	// Bound the key count by the record length before sizing anything by it.
	if uint64(nkeys)*KeyRefSize > uint64(n-HeaderSize-topicLen) || HeaderSize+topicLen > n {
		return Header{}, 0, fmt.Errorf("%w: %d keys and a %d byte topic do not fit in %d bytes", ErrCorrupt, nkeys, topicLen, n)
	}
	off := HeaderSize + topicLen + int(nkeys)*KeyRefSize
	if len(buf) < off {
		return Header{}, 0, ErrShort
	}
	if topicLen == 0 || topicLen > MaxTopicLen || h.Count == 0 || h.Attr&^knownAttrs != 0 {
		return Header{}, 0, fmt.Errorf("%w: invalid header fields", ErrCorrupt)
	}
	h.Topic = internTopic(buf[HeaderSize : HeaderSize+topicLen])
	keys = keys[:0]
	for p := HeaderSize + topicLen; p < off; p += KeyRefSize {
		k := KeyRef{Index: le.Uint32(buf[p:]), Hash: le.Uint64(buf[p+4:])}
		if k.Index >= h.Count {
			return Header{}, 0, fmt.Errorf("%w: key for message %d of %d", ErrCorrupt, k.Index, h.Count)
		}
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		h.Keys = keys
	}
	return h, off, nil
}

// KeyHash is the hash under which a message key of a topic is indexed. It is
// stable across processes (the index lives on disk), so it is not maphash.
func KeyHash(topic, key string) uint64 {
	h := fnv64(14695981039346656037, topic)
	h = fnv64(h^0xff, key)
	return mix64(h)
}

// TagBit returns the two bits a tag sets in a tag bloom.
func TagBit(tag string) uint64 {
	h := mix64(fnv64(14695981039346656037, tag))
	return 1<<(h&63) | 1<<((h>>6)&63)
}

// TagBloom builds the bloom of a set of tags. Messages without a tag add
// nothing; a filter for "no tag" must not use the bloom.
func TagBloom(tags ...string) uint64 {
	var b uint64
	for _, t := range tags {
		if t != "" {
			b |= TagBit(t)
		}
	}
	return b
}

// MayContainTag reports whether a batch with this bloom may hold tag. False
// is certain; true may be a false positive.
func MayContainTag(bloom uint64, tag string) bool {
	bit := TagBit(tag)
	return bloom&bit == bit
}

func fnv64(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finaliser; it spreads fnv's weak low bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
