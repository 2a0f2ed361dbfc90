package event

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Format returns v as text: strings as they are, numbers and bools
// formatted, times in RFC 3339, anything else as JSON.
func Format(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return string(AppendValue(nil, v))
}

// AppendJSON appends the event as one JSON object, without a newline.
// A log event is its fields, with "timestamp" (RFC 3339, the event's
// time) first unless a field of that name exists, and its meta under
// "meta". A metric event is {"timestamp", "series": [{"labels": {...},
// "samples": [[unix_ms, value], ...]}], "meta"}. Keys are sorted, so the
// same event always encodes the same way.
func AppendJSON(dst []byte, e *Event) []byte { return appendEvent(dst, e, nil) }

// appendEvent is AppendJSON; enc, if not nil, supplies and remembers the
// order of the names.
func appendEvent(dst []byte, e *Event, enc *JSONEncoder) []byte {
	dst = append(dst, '{')
	if _, ok := e.Fields["timestamp"]; !ok {
		dst = append(dst, `"timestamp":"`...)
		dst = appendTime(dst, e.Time)
		dst = append(dst, '"')
	}
	if e.Kind == KindMetric {
		dst = append(dst, `,"series":[`...)
		for i := range e.Series {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendSeries(dst, i, e)
		}
		dst = append(dst, ']')
	} else {
		var arr [16]entry[any]
		for _, f := range order(enc.fieldNames(), arr[:0], e.Fields) {
			if len(dst) > 1 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, f.k)
			dst = append(dst, ':')
			dst = AppendValue(dst, f.v)
		}
	}
	if len(e.Meta) > 0 {
		dst = append(dst, `,"meta":{`...)
		var arr [16]entry[string]
		for i, p := range order(enc.metaNames(), arr[:0], e.Meta) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, p.k)
			dst = append(dst, ':')
			dst = AppendString(dst, p.v)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendSeries(dst []byte, i int, e *Event) []byte {
	s := &e.Series[i]
	dst = append(dst, `{"labels":{`...)
	for j, l := range s.Labels {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, l.Name)
		dst = append(dst, ':')
		dst = AppendString(dst, l.Value)
	}
	dst = append(dst, `},"samples":[`...)
	for j, smp := range s.Samples {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, smp.Timestamp, 10)
		dst = append(dst, ',')
		dst = appendFloat(dst, smp.Value)
		dst = append(dst, ']')
	}
	return append(dst, "]}"...)
}

// entry is a name and its value, sorted together so that encoding a map
// looks each name up once.
type entry[V any] struct {
	k string
	v V
}

// sorted appends m's entries to es, sorted by name; callers pass a stack
// array's slice so that small maps cost no allocation.
func sorted[V any](es []entry[V], m map[string]V) []entry[V] {
	for k, v := range m {
		es = append(es, entry[V]{k, v})
	}
	// Insertion sort: maps of events are small, and this is what
	// slices.SortFunc would do for them, without the indirect calls.
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].k < es[j-1].k; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	return es
}

// appendTime writes t in UTC as RFC 3339 with nanoseconds, trailing
// zeros of the fraction trimmed: what time.RFC3339Nano gives, faster.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	dst = append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		dst = append(dst, frac[:n]...)
	}
	return append(dst, 'Z')
}

// appendFloat writes NaN and infinities, which JSON has no numbers for, as
// strings, the way Prometheus's JSON API does.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.AppendQuote(dst, strconv.FormatFloat(f, 'f', -1, 64))
	}
	// Integral values below 1e6 are what 'g' writes without an exponent
	// (it switches to one at 1e+06), so AppendInt writes the same text,
	// several times faster. -0 is left to AppendFloat, which keeps its sign.
	if f > -1e6 && f < 1e6 && f == math.Trunc(f) && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// AppendValue appends a field value as JSON.
func AppendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return AppendString(dst, x)
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, x)
	case float64:
		return appendFloat(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case time.Time:
		dst = append(dst, '"')
		dst = appendTime(dst, x)
		return append(dst, '"')
	case map[string]any:
		dst = append(dst, '{')
		var arr [16]entry[any]
		for i, f := range sorted(arr[:0], x) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, f.k)
			dst = append(dst, ':')
			dst = AppendValue(dst, f.v)
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendValue(dst, e)
		}
		return append(dst, ']')
	}
	b, err := json.Marshal(v)
	if err != nil {
		return AppendString(dst, err.Error())
	}
	return append(dst, b...)
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the bytes a JSON string holds as they are: printable
// ASCII but the quote and the backslash. Bytes of multi-byte UTF-8
// sequences are checked one rune at a time.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// unsafe8 marks with its high bit each byte of the first 8 of s (it must
// have 8) that is not jsonSafe; the lowest marked byte is the first. The
// tests are the classic SWAR ones: (x - 0x01..) & ^x & 0x80.. marks a
// zero byte, and with 0x20 instead of 0x01 a byte below 0x20; a marked
// byte may also mark bytes above it by borrow, never below, so the
// lowest mark is exact.
func unsafe8(s string) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8)) // one load where the CPU allows
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	bad := (x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash
	return (bad | x) & highs
}

// skipSafe returns the offset of the first byte of s from i on that
// needs escaping, or len(s), testing 8 bytes at a time: most bytes need
// none. Once fewer than 8 are left, it tests the last 8 of s, whose
// bytes before i are known safe and so mark nothing (nor borrow); only
// a string shorter than 8 is left to the caller's byte loop.
func skipSafe(s string, i int) int {
	for i+8 <= len(s) {
		if m := unsafe8(s[i:]); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	if i < len(s) && len(s) >= 8 {
		w := len(s) - 8
		m := unsafe8(s[w:]) >> (8 * (i - w))
		if m == 0 {
			return len(s)
		}
		return i + bits.TrailingZeros64(m)>>3
	}
	return i
}

// AppendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if i = skipSafe(s, i); i == len(s) {
			break
		}
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
