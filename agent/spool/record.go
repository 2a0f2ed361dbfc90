package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// headerSize is length u32 | crc32c u32 | appended-at i64.
const headerSize = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt wraps every damaged-record and damaged-checkpoint error.
var ErrCorrupt = errors.New("corrupt spool data")

// header is a decoded record header.
type header struct {
	length uint32
	crc    uint32
	at     int64 // unix nanoseconds of the append
}

// appendRecord appends the encoded record to dst.
func appendRecord(dst, payload []byte, at int64) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(at))
	dst = append(dst, payload...)
	h := dst[start:]
	binary.LittleEndian.PutUint32(h[4:], checksum(h[:headerSize], h[headerSize:]))
	return dst
}

// checksum covers the header without its crc field, then the payload.
func checksum(hdr, payload []byte) uint32 {
	c := crc32.Checksum(hdr[0:4], castagnoli)
	c = crc32.Update(c, castagnoli, hdr[8:headerSize])
	return crc32.Update(c, castagnoli, payload)
}

func decodeHeader(b []byte) header {
	return header{
		length: binary.LittleEndian.Uint32(b[0:]),
		crc:    binary.LittleEndian.Uint32(b[4:]),
		at:     int64(binary.LittleEndian.Uint64(b[8:])),
	}
}

// checkLength reports a length that cannot be right with room bytes left
// in the segment after the header; it runs before anything is allocated.
func (h header) checkLength(room int64) error {
	if h.length > MaxRecordSize {
		return fmt.Errorf("%w: length %d above the maximum %d", ErrCorrupt, h.length, MaxRecordSize)
	}
	if int64(h.length) > room {
		return fmt.Errorf("%w: length %d runs past the segment end (%d bytes left)", ErrCorrupt, h.length, room)
	}
	return nil
}

// decodeRecord decodes the record at the start of b, which ends where its
// segment ends. It returns the payload (aliasing b), the append time and
// the record's size on disk.
func decodeRecord(b []byte) (payload []byte, at int64, size int, err error) {
	if len(b) < headerSize {
		return nil, 0, 0, fmt.Errorf("%w: %d bytes, short of a header", ErrCorrupt, len(b))
	}
	h := decodeHeader(b)
	if err := h.checkLength(int64(len(b) - headerSize)); err != nil {
		return nil, 0, 0, err
	}
	size = headerSize + int(h.length)
	payload = b[headerSize:size]
	if checksum(b[:headerSize], payload) != h.crc {
		return nil, 0, 0, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return payload, h.at, size, nil
}
