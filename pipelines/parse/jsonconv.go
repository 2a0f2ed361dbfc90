package parse

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
)

// jsonDecoder turns JSON text into the values encoding/json's Unmarshal
// into an `any` makes (map[string]any, []any, string, float64, bool,
// nil), with fewer allocations: fastjson parses into a tree it reuses,
// object keys come from a cache, and the string values of a document
// share one allocation.
//
// Every valid JSON document decodes exactly as with encoding/json
// (numbers are read by strconv.ParseFloat, invalid UTF-8 becomes U+FFFD
// byte by byte), except that a lone UTF-16 surrogate escape ("\ud800"
// without its pair) is kept as its six characters of text where
// encoding/json makes it U+FFFD. Like fastjson, and unlike
// encoding/json, it also takes some invalid documents rather than
// spend a second pass refusing them: raw control characters and unknown
// escapes inside strings (kept as they are), and numbers such as +1,
// 01 or .5. NaN and infinities are refused: JSON has no such numbers
// and the event model does not hold them.
//
// A jsonDecoder is used by one goroutine at a time.
type jsonDecoder struct {
	parser fastjson.Parser
	// keys maps an object key's bytes, as fastjson unescaped them, to
	// the key as a string, so that the keys of a log stream, which
	// repeat, are allocated once. It is emptied when full, so that a
	// stream of ever-new keys cannot grow it.
	keys map[string]string
	// recent is the keys of the last document in the order convert met
	// them, and keyIndex the position of the next key in this one: the
	// lines of a stream tend to have the same keys in the same order, so
	// most keys are found by one comparison, without hashing.
	recent   []string
	keyIndex int
	// arena holds the bytes of the string values of the document being
	// converted, and chunk is the size of an arena; see str.
	arena []byte
	chunk int
	// num holds a number's text for strconv.ParseFloat.
	num []byte
}

// maxKeys bounds the key cache, and maxRecent the keys remembered by
// position.
const (
	maxKeys   = 4096
	maxRecent = 64
)

var (
	errNotObject = errors.New("not a JSON object")
	errNumber    = errors.New("not a JSON number")
)

// decode parses s and returns its value. When object is true, s must be
// a JSON object, and the map returned has room for extra more keys.
func (d *jsonDecoder) decode(s string, object bool, extra int) (any, error) {
	v, err := d.parser.Parse(s)
	if err != nil {
		return nil, err
	}
	// The unescaped string values of s are no longer than s, so an
	// arena of len(s) bytes (up to arenaChunk) holds most documents'.
	d.arena, d.keyIndex = nil, 0
	d.chunk = min(len(s), arenaChunk)
	if v.Type() == fastjson.TypeObject {
		return d.object(v, extra)
	}
	if object {
		return nil, fmt.Errorf("%w: a JSON %s", errNotObject, v.Type())
	}
	return d.convert(v)
}

// arenaChunk bounds an arena, so that a huge line with a few short
// strings does not get a huge arena.
const arenaChunk = 16 << 10

// str returns b as a string, copied into the document's arena. The
// arena is appended to but never written over, and a new one is made
// when it is full, so the strings handed out never change: that is
// what makes unsafe.String sound here. Each string would otherwise be
// its own allocation; this makes them one per document, or per 16 KiB
// of strings. A string that is not valid UTF-8 (fixed as it is copied)
// or is as large as a chunk gets its own allocation.
func (d *jsonDecoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if !utf8.Valid(b) {
		return string(appendValidUTF8(nil, b))
	}
	if len(b) > cap(d.arena)-len(d.arena) {
		if len(b) >= d.chunk {
			return string(b)
		}
		d.arena = make([]byte, 0, d.chunk)
	}
	n := len(d.arena)
	d.arena = append(d.arena, b...)
	return unsafe.String(&d.arena[n], len(b))
}

// convert returns v as encoding/json would unmarshal it into an `any`.
func (d *jsonDecoder) convert(v *fastjson.Value) (any, error) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return d.str(b), nil
	case fastjson.TypeNumber:
		d.num = v.MarshalTo(d.num[:0])
		f, err := strconv.ParseFloat(string(d.num), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			// Out of float64's range: encoding/json refuses it too.
			return nil, fmt.Errorf("%w: %.40q", errNumber, d.num)
		}
		return f, nil
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	case fastjson.TypeNull:
		return nil, nil
	case fastjson.TypeObject:
		return d.object(v, 0)
	case fastjson.TypeArray:
		a, _ := v.Array()
		out := make([]any, len(a))
		for i, x := range a {
			var err error
			if out[i], err = d.convert(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected JSON value type %s", v.Type())
}

// object converts an object; a repeated key keeps its last value, as
// with encoding/json.
func (d *jsonDecoder) object(v *fastjson.Value, extra int) (map[string]any, error) {
	o, _ := v.Object()
	m := make(map[string]any, o.Len()+extra)
	var err error
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		var x any
		if x, err = d.convert(v); err == nil {
			m[d.key(k)] = x
		}
	})
	return m, err
}

// key returns k as a string, from the caches when it was seen before.
func (d *jsonDecoder) key(k []byte) string {
	i := d.keyIndex
	d.keyIndex++
	if i < len(d.recent) && d.recent[i] == string(k) {
		return d.recent[i]
	}
	s := d.cachedKey(k)
	switch {
	case i < len(d.recent):
		d.recent[i] = s
	case i < maxRecent:
		d.recent = append(d.recent, s)
	}
	return s
}

func (d *jsonDecoder) cachedKey(k []byte) string {
	if s, ok := d.keys[string(k)]; ok {
		return s
	}
	if d.keys == nil || len(d.keys) >= maxKeys {
		d.keys = make(map[string]string, 64)
	}
	s := string(appendValidUTF8(nil, k))
	d.keys[string(k)] = s
	return s
}

// appendValidUTF8 appends b with each byte that is not part of valid
// UTF-8 replaced by U+FFFD, as encoding/json does.
func appendValidUTF8(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:size]...)
		}
		b = b[size:]
	}
	return dst
}
