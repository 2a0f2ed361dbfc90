package event

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"slices"
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
	var arr [16]Field
	var fields []Field
	var keys []string
	hasTS := false
	if e.Kind != KindMetric {
		fields, keys = orderFields(enc.fieldOrder(), arr[:0], &e.Fields)
		if keys != nil {
			hasTS = enc.fields.hasTS
		} else {
			hasTS = e.Fields.Has("timestamp")
		}
	}
	dst = append(dst, '{')
	if !hasTS {
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
	}
	for i, f := range fields {
		if i > 0 || !hasTS {
			dst = append(dst, ',')
		}
		dst = appendKey(dst, keys, i, f.Name)
		dst = AppendValue(dst, f.Value)
	}
	if len(e.Meta) > 0 {
		dst = append(dst, `,"meta":{`...)
		var arr [16]entry[string]
		meta, keys := order(enc.metaNames(), arr[:0], e.Meta)
		for i, p := range meta {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendKey(dst, keys, i, p.k)
			dst = AppendString(dst, p.v)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendKey writes name as a key: keys[i] when the encoder remembered it.
func appendKey(dst []byte, keys []string, i int, name string) []byte {
	if keys != nil {
		return append(dst, keys[i]...)
	}
	return append(AppendString(dst, name), ':')
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
	if a := math.Abs(f); a >= 1e-4 && a < 1e6 {
		if n, d, ok := fewDecimals(f); ok {
			return appendDecimal(dst, n, d)
		}
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// pow10 are the powers of ten fewDecimals tries.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4}

// fewDecimals finds the fewest decimals d (1 to 4) for which n/10^d is f
// to the bit, as latencies and ratios in logs mostly are: that decimal
// reads back as f (the division and the parse both round correctly), and as f's spacing is far finer than 10^-4 below 1e6,
// no other one of d decimals does. So it is the shortest text for f,
// what 'g' writes (without an exponent from 1e-4 to 1e6), without the
// search for the shortest digits that makes AppendFloat slow.
func fewDecimals(f float64) (n int64, d int, ok bool) {
	for d := 1; d < len(pow10); d++ {
		// f*10^d is rounded: the product itself may be off by a bit.
		if n := int64(math.Round(f * pow10[d])); float64(n)/pow10[d] == f {
			return n, d, true
		}
	}
	return 0, 0, false
}

// appendDecimal writes n/10^d with d decimals.
func appendDecimal(dst []byte, n int64, d int) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	p := int64(pow10[d])
	dst = strconv.AppendInt(dst, n/p, 10)
	dst = append(dst, '.')
	frac := n % p
	for q := p / 10; q > frac && q > 1; q /= 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, frac, 10)
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

// unsafeBytes marks with its high bit each byte of x (8 bytes of a
// string, as load8 reads them) that is not jsonSafe; the lowest marked byte is the first. The
// tests are the classic SWAR ones: (x - 0x01..) & ^x & 0x80.. marks a
// zero byte, and with 0x20 instead of 0x01 a byte below 0x20; a marked
// byte may also mark bytes above it by borrow, never below, so the
// lowest mark is exact.
func unsafeBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	bad := (x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash
	return (bad | x) & highs
}

// quotesAndBackslashes marks with its high bit each byte of x that is a
// quote or a backslash, exactly (no borrow between bytes: a byte's
// low 7 bits plus 0x7f carry into its high bit only), and reports
// whether x holds another byte that is not jsonSafe.
func quotesAndBackslashes(x uint64) (q uint64, other bool) {
	const low7, highs = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	const ones = 0x0101010101010101
	zero := func(v uint64) uint64 { return ^((v&low7 + low7) | v) & highs }
	q = zero(x^(ones*'"')) | zero(x^(ones*'\\'))
	// Below 0x20: the low 7 bits plus 0x60 do not reach the high bit.
	control := ^((x&low7 + ones*0x60) | x) & highs
	return q, control|x&highs != 0
}

// AppendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
//
// It copies 8 bytes at a time with one load and one store, also when
// some of them need escaping: the store writes all 8, and only those
// before the first to escape are kept. Log lines that hold JSON have a
// quote every few bytes, and a copy call per run between quotes cost
// more than the bytes did.
func AppendString(dst []byte, s string) []byte {
	// buf keeps room for the rest of s, and for one step's escape: a
	// step without escapes writes as many bytes as it reads.
	const room = 16
	n := len(dst)
	buf := slices.Grow(dst, len(s)+room)
	buf = buf[:cap(buf)]
	buf[n] = '"'
	n++
	i := 0
	for {
		for i+8 <= len(s) {
			x := load8(s[i:])
			binary.LittleEndian.PutUint64(buf[n:n+8], x)
			m := unsafeBytes(x)
			if m == 0 {
				i, n = i+8, n+8
				continue
			}
			q, other := quotesAndBackslashes(x)
			if other {
				k := bits.TrailingZeros64(m) >> 3
				i, n = i+k, n+k
				goto escape
			}
			// Only quotes and backslashes, as in JSON inside a log line:
			// each is escaped in place, the rest of the block stored
			// again one byte further on (buf's room covers 8 escapes
			// and the last store).
			for ; q != 0; q &= q - 1 {
				k := bits.TrailingZeros64(q) >> 3
				buf[n+k] = '\\'
				n++
				binary.LittleEndian.PutUint64(buf[n+k:n+k+8], x>>(8*k))
			}
			i, n = i+8, n+8
			if len(buf)-n < len(s)-i+room {
				buf = slices.Grow(buf[:n], len(s)-i+room)
				buf = buf[:cap(buf)]
			}
		}
		if r := len(s) - i; r > 0 && len(s) >= 8 {
			// The store's bytes past the r left are written over or cut off.
			x, m := tail8(s, r)
			binary.LittleEndian.PutUint64(buf[n:n+8], x)
			if m == 0 {
				n += r
				break
			}
			k := bits.TrailingZeros64(m) >> 3
			i, n = i+k, n+k
			goto escape
		}
		for ; i < len(s); i, n = i+1, n+1 {
			if !jsonSafe[s[i]] {
				goto escape
			}
			buf[n] = s[i]
		}
		break
	escape:
		if c := s[i]; c == '"' || c == '\\' { // most escapes, without a call
			buf[n], buf[n+1] = '\\', c
			i, n = i+1, n+2
		} else {
			i, n = escapeAt(buf, n, s, i)
		}
		if len(buf)-n < len(s)-i+room {
			buf = slices.Grow(buf[:n], len(s)-i+room)
			buf = buf[:cap(buf)]
		}
	}
	buf[n] = '"'
	return buf[:n+1]
}

// SkipJSONSafe returns the offset of the first byte of s from i on that
// a JSON string cannot hold as it is (a quote, a backslash, a control
// character or a byte of a multi-byte UTF-8 sequence), or len(s),
// testing 8 bytes at a time. Once fewer than 8 are left, it tests the
// last 8 of s; only a string shorter than 8 is read byte by byte.
func SkipJSONSafe(s string, i int) int {
	for i+8 <= len(s) {
		if m := unsafeBytes(load8(s[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	if r := len(s) - i; r > 0 && len(s) >= 8 {
		if _, m := tail8(s, r); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		return len(s)
	}
	for i < len(s) && jsonSafe[s[i]] {
		i++
	}
	return i
}

// tail8 reads the last r (1 to 7) bytes of s, which has 8 or more, into
// the low bytes of x, and marks those that are not jsonSafe in m, as
// unsafeBytes does. The bytes before them are shifted out before
// testing, so that none borrows into them; the zeros shifted in are
// marked, above them, and masked off.
func tail8(s string, r int) (x, m uint64) {
	x = load8(s[len(s)-8:]) >> (8 * (8 - r))
	return x, unsafeBytes(x) & (1<<(8*r) - 1)
}

// load8 reads the first 8 bytes of s (it must have 8), little-endian.
func load8(s string) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8)) // one load where the CPU allows
}

// escapeAt writes s[i], a byte that is not jsonSafe, at buf[n:] (which
// has room for 16 bytes): escaped, or the whole rune it starts, or
// U+FFFD for invalid UTF-8. It returns the offsets after it.
func escapeAt(buf []byte, n int, s string, i int) (int, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		switch c {
		case '"', '\\':
			buf[n], buf[n+1] = '\\', c
		case '\n':
			buf[n], buf[n+1] = '\\', 'n'
		case '\r':
			buf[n], buf[n+1] = '\\', 'r'
		case '\t':
			buf[n], buf[n+1] = '\\', 't'
		default:
			return i + 1, n + copy(buf[n:], []byte{'\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf]})
		}
		return i + 1, n + 2
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		return i + 1, n + copy(buf[n:], `\ufffd`)
	}
	return i + size, n + copy(buf[n:], s[i:i+size])
}
