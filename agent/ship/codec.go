package ship

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/broker/protocol"
)

// ErrBadBatch wraps every error decoding a spooled batch.
var ErrBadBatch = errors.New("malformed spooled batch")

// Limits checked before anything is allocated for a decoded batch.
const (
	maxBatchRecords = 1 << 20
	maxProps        = 1 << 10
)

// encodeBatch appends recs to dst in the spool's batch format:
//
//	version u8 (1) | count uvarint | count x record
//	record: topic str | key str | time-ms varint | nprops uvarint |
//	        nprops x (key str, value str) | body str
//
// where str is a uvarint length and the bytes. The spool adds its own
// length and CRC around it.
func encodeBatch(dst []byte, recs []source.Record) []byte {
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	for i := range recs {
		r := &recs[i]
		dst = appendStr(dst, r.Topic)
		dst = appendStr(dst, r.Key)
		ms := int64(0)
		if !r.Time.IsZero() {
			ms = r.Time.UnixMilli()
		}
		dst = binary.AppendVarint(dst, ms)
		dst = appendProps(dst, r)
		dst = binary.AppendUvarint(dst, uint64(len(r.Body)))
		dst = append(dst, r.Body...)
	}
	return dst
}

// appendProps appends r's properties, Shared and Extra among them, as
// a broker batch encodes them: a record read back from the spool has
// them all in its map.
func appendProps(dst []byte, r *source.Record) []byte {
	m := protocol.Message{Properties: r.Properties, Shared: r.Shared, Extra: r.Extra}
	return m.AppendProperties(dst)
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodeBatch decodes a batch made by encodeBatch. Bodies are copied, so
// the records do not alias b.
func decodeBatch(b []byte) ([]source.Record, error) {
	d := reader{b: b}
	if v := d.byte(); d.err == nil && v != 1 {
		return nil, fmt.Errorf("%w: version %d", ErrBadBatch, v)
	}
	// Every record takes at least 5 bytes, which bounds a hostile count.
	n := d.uvarint()
	if d.err == nil && (n > maxBatchRecords || n > uint64(len(d.b))/5) {
		return nil, fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrBadBatch, n, len(d.b))
	}
	recs := make([]source.Record, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var r source.Record
		r.Topic = d.str()
		r.Key = d.str()
		if ms := d.varint(); ms != 0 {
			r.Time = time.UnixMilli(ms)
		}
		np := d.uvarint()
		if d.err == nil && (np > maxProps || np > uint64(len(d.b))/2) {
			return nil, fmt.Errorf("%w: record %d has %d properties in %d bytes", ErrBadBatch, i, np, len(d.b))
		}
		if np > 0 {
			r.Properties = make(map[string]string, np)
		}
		for range np {
			k := d.str()
			r.Properties[k] = d.str()
		}
		r.Body = []byte(d.str())
		recs = append(recs, r)
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrBadBatch, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return recs, nil
}

// reader decodes fields; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrBadBatch, what)
	}
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail(fmt.Sprintf("string of %d bytes with %d left", n, len(r.b)))
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
