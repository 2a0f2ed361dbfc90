package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadBody wraps every body decoding error.
var ErrBadBody = errors.New("malformed body")

// enc appends binary fields.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) i64(v int64)  { e.u64(uint64(v)) }
func (e *enc) uvarint(v uint64) {
	e.b = binary.AppendUvarint(e.b, v)
}
func (e *enc) bytes(p []byte) { e.uvarint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *enc) str(s string)   { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }

// dec reads binary fields; the first error sticks and later reads return
// zero values, so a decoder checks err once at the end.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrBadBody, what)
	}
}

func (d *dec) need(n int, what string) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b) < n {
		d.fail("truncated " + what)
		return false
	}
	return true
}

func (d *dec) u8(what string) uint8 {
	if !d.need(1, what) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) u32(what string) uint32 {
	if !d.need(4, what) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *dec) u64(what string) uint64 {
	if !d.need(8, what) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *dec) i64(what string) int64 { return int64(d.u64(what)) }

func (d *dec) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) > 0 && d.b[0] < 0x80 { // most lengths and counts: one byte, always shortest
		v := uint64(d.b[0])
		d.b = d.b[1:]
		return v
	}
	v, n := binary.Uvarint(d.b)
	// Only the shortest encoding is valid, so that every value has one
	// encoding and a decoded body re-encodes to the same bytes.
	if n <= 0 || n != uvarintLen(v) {
		d.fail("bad varint " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a length-prefixed field aliasing the input. The length is
// checked against what is left before anything is sliced or allocated.
func (d *dec) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(fmt.Sprintf("%s of %d bytes with %d left", what, n, len(d.b)))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) str(what string) string { return string(d.bytes(what)) }

// count reads a element count and checks that count elements of at least
// minSize bytes each can fit in what is left, so a hostile count cannot make
// the decoder allocate.
func (d *dec) count(what string, minSize int) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/max(minSize, 1)) {
		d.fail(fmt.Sprintf("%d %s cannot fit in %d bytes", n, what, len(d.b)))
		return 0
	}
	return int(n)
}

func (d *dec) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}
