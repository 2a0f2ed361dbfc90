package parse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/sluicehq/sluice/pipelines/event"
)

// jsonDecoder turns JSON text into the values encoding/json's Unmarshal
// into an `any` makes (map[string]any, []any, string, float64, bool,
// nil), reading the text once and building the values as it goes, with
// few allocations: object keys come from a cache, the string values of
// a document share one allocation, and strings and numbers are boxed
// into `any` by an event.Boxer.
//
// It agrees exactly with encoding/json: it takes the documents
// encoding/json takes and decodes them to the same values (invalid
// UTF-8 and lone UTF-16 surrogate escapes become U+FFFD, numbers are
// read by strconv.ParseFloat, a repeated key keeps its last value), and
// refuses the documents encoding/json refuses (raw control characters
// and unknown escapes in strings, numbers such as +1, 01, .5 or 1.,
// numbers out of float64's range, trailing garbage, nesting deeper than
// 10000). Its errors tell what was wrong at which byte offset.
//
// A jsonDecoder is used by one goroutine at a time.
type jsonDecoder struct {
	// s is the document being decoded and pos the offset of the next
	// byte to read.
	s   string
	pos int
	// keys maps an object key's text, as it is between the quotes of
	// the document, to that text and the key it decodes to, both
	// strings of their own, so that the keys of a log stream, which
	// repeat, are unescaped and allocated once. It is emptied when
	// full, so that a stream of ever-new keys cannot grow it.
	keys map[string]recentKey
	// recent is the keys of the last document in the order they were
	// met, and keyIndex the position of the next key in this one: the
	// lines of a stream tend to have the same keys in the same order, so
	// most keys are found by one comparison, without hashing.
	recent   []recentKey
	keyIndex int
	// arena holds the bytes of the string values decoded; see copy.
	arena []byte
	// buf holds a string as it is unescaped.
	buf []byte
	// kvs and elems are stacks of the members of the objects and the
	// elements of the arrays being decoded: the size of a map or slice
	// is only known at its end, and making it then with that size spares
	// growing it.
	kvs   []keyValue
	elems []any
	box   event.Boxer
}

// recentKey is a key as it is in the text of a document, and as it is
// decoded.
type recentKey struct{ raw, key string }

type keyValue struct {
	key string
	val any
}

// maxKeys bounds the key cache, and maxRecent the keys remembered by
// position.
const (
	maxKeys   = 4096
	maxRecent = 64
)

// maxDepth is encoding/json's bound on nesting; it also bounds the
// recursion of value.
const maxDepth = 10000

var (
	errNotObject = errors.New("not a JSON object")
	errSyntax    = errors.New("cannot parse JSON")
	errNumber    = errors.New("JSON number out of range")
)

// decode parses s and returns its value. When object is true, s must be
// a JSON object, and the map returned has room for extra more keys.
func (d *jsonDecoder) decode(s string, object bool, extra int) (any, error) {
	d.s, d.pos, d.keyIndex = s, 0, 0
	defer d.reset()
	d.skipSpace()
	if object && (d.pos >= len(s) || s[d.pos] != '{') {
		return nil, d.notObject()
	}
	if !object {
		extra = 0
	}
	v, err := d.value(0, extra)
	if err != nil {
		return nil, err
	}
	if d.skipSpace(); d.pos < len(s) {
		return nil, d.syntax("after top-level value")
	}
	return v, nil
}

// reset lets go of the document and of the values of the stacks, so
// that the decoder does not keep them alive.
func (d *jsonDecoder) reset() {
	d.s = ""
	// object and array clear what they used, unless they failed.
	clear(d.kvs)
	clear(d.elems)
	d.kvs, d.elems = d.kvs[:0], d.elems[:0]
	if cap(d.kvs) > 1024 {
		d.kvs = nil
	}
	if cap(d.elems) > 1024 {
		d.elems = nil
	}
	if cap(d.buf) > 64<<10 {
		d.buf = nil
	}
}

// notObject tells what the document at d.pos is instead of an object,
// or what is wrong with it.
func (d *jsonDecoder) notObject() error {
	if d.pos >= len(d.s) {
		return d.syntax("")
	}
	kind := "value"
	switch c := d.s[d.pos]; {
	case c == '[':
		kind = "array"
	case c == '"':
		kind = "string"
	case c == '-' || c >= '0' && c <= '9':
		kind = "number"
	case c == 't' || c == 'f':
		kind = "boolean"
	case c == 'n':
		kind = "null"
	}
	if _, err := d.value(0, 0); err != nil {
		return err
	}
	return fmt.Errorf("%w: a JSON %s", errNotObject, kind)
}

// syntax returns the error of the byte at d.pos, found where tells; the
// end of the text is an error of its own.
func (d *jsonDecoder) syntax(where string) error {
	if d.pos >= len(d.s) {
		return fmt.Errorf("%w: unexpected end of JSON input at offset %d", errSyntax, d.pos)
	}
	return fmt.Errorf("%w: invalid character %s %s at offset %d", errSyntax, quoteChar(d.s[d.pos]), where, d.pos)
}

// quoteChar formats c as encoding/json's errors do.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

func (d *jsonDecoder) skipSpace() {
	s, i := d.s, d.pos
	if i >= len(s) || s[i] > ' ' { // JSON's white space is all at or below ' '
		return
	}
	// Runs of blanks, such as lines padded to a width, go 8 at a time.
	const blanks = 0x2020202020202020
	for i+8 <= len(s) && binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8)) == blanks {
		i += 8
	}
	for ; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			d.pos = i
			return
		}
	}
	d.pos = i
}

// value decodes the value at d.pos, which is not white space, nested in
// depth containers. extra is the room a map made for it leaves.
func (d *jsonDecoder) value(depth, extra int) (any, error) {
	if d.pos >= len(d.s) {
		return nil, d.syntax("")
	}
	switch c := d.s[d.pos]; c {
	case '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return d.box.String(s), nil
	case '{':
		return d.object(depth+1, extra)
	case '[':
		return d.array(depth + 1)
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			f, err := d.number()
			if err != nil {
				return nil, err
			}
			return d.box.Float(f), nil
		}
	}
	return nil, d.syntax("looking for beginning of value")
}

// literal reads the word at d.pos.
func (d *jsonDecoder) literal(word string) error {
	for i := range len(word) {
		if d.pos >= len(d.s) || d.s[d.pos] != word[i] {
			return d.syntax("in literal " + word + " (expecting " + quoteChar(word[i]) + ")")
		}
		d.pos++
	}
	return nil
}

// object decodes the object at d.pos, nested in depth containers; its
// map has room for extra more keys. Its members wait on d.kvs until its
// end, when their number, and so the size of the map, is known. A
// repeated key keeps its last value, as with encoding/json.
func (d *jsonDecoder) object(depth, extra int) (map[string]any, error) {
	base := len(d.kvs)
	if err := d.members(depth); err != nil {
		return nil, err
	}
	kvs := d.kvs[base:]
	m := make(map[string]any, len(kvs)+extra)
	for _, kv := range kvs {
		m[kv.key] = kv.val
	}
	clear(kvs)
	d.kvs = d.kvs[:base]
	return m, nil
}

// members decodes the members of the object at d.pos onto d.kvs.
func (d *jsonDecoder) members(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: exceeded max depth at offset %d", errSyntax, d.pos)
	}
	d.pos++
	if d.skipSpace(); d.pos < len(d.s) && d.s[d.pos] == '}' {
		d.pos++
		return nil
	}
	for {
		if d.pos >= len(d.s) || d.s[d.pos] != '"' {
			return d.syntax("looking for beginning of object key string")
		}
		k, err := d.key()
		if err != nil {
			return err
		}
		if d.skipSpace(); d.pos >= len(d.s) || d.s[d.pos] != ':' {
			return d.syntax("after object key")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value(depth, 0)
		if err != nil {
			return err
		}
		d.kvs = append(d.kvs, keyValue{k, v})
		if d.skipSpace(); d.pos < len(d.s) && d.s[d.pos] == ',' {
			d.pos++
			d.skipSpace()
			continue
		}
		if d.pos >= len(d.s) || d.s[d.pos] != '}' {
			return d.syntax("after object key:value pair")
		}
		d.pos++
		return nil
	}
}

// decodeInto parses s, which must be a JSON object, and sets its
// members in f, replacing those of the same name; once s parsed, and
// before f changes, it calls parsed. Filling the event's own fields
// spares making a map per event and merging the event's fields into it.
// f is left as it was when s does not parse.
func (d *jsonDecoder) decodeInto(s string, f *event.Fields, parsed func()) error {
	d.s, d.pos, d.keyIndex = s, 0, 0
	defer d.reset()
	d.skipSpace()
	if d.pos >= len(s) || s[d.pos] != '{' {
		return d.notObject()
	}
	if err := d.members(1); err != nil {
		return err
	}
	if d.skipSpace(); d.pos < len(s) {
		return d.syntax("after top-level value")
	}
	parsed()
	for _, kv := range d.kvs {
		f.Set(kv.key, kv.val)
	}
	return nil
}

// array decodes the array at d.pos, nested in depth containers. Its
// elements wait on d.elems until its end.
func (d *jsonDecoder) array(depth int) ([]any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: exceeded max depth at offset %d", errSyntax, d.pos)
	}
	d.pos++
	if d.skipSpace(); d.pos < len(d.s) && d.s[d.pos] == ']' {
		d.pos++
		return []any{}, nil
	}
	base := len(d.elems)
	for {
		v, err := d.value(depth, 0)
		if err != nil {
			return nil, err
		}
		d.elems = append(d.elems, v)
		if d.skipSpace(); d.pos < len(d.s) && d.s[d.pos] == ',' {
			d.pos++
			d.skipSpace()
			continue
		}
		if d.pos >= len(d.s) || d.s[d.pos] != ']' {
			return nil, d.syntax("after array element")
		}
		d.pos++
		break
	}
	a := append([]any(nil), d.elems[base:]...)
	clear(d.elems[base:])
	d.elems = d.elems[:base]
	return a, nil
}

// key decodes the object key at d.pos, from the caches when its text
// was met before.
func (d *jsonDecoder) key() (string, error) {
	i := d.keyIndex
	d.keyIndex++
	// The key the last document had here, when its text is next and a
	// quote follows, is this key, without scanning: that text ended a
	// string once, so it holds no unescaped quote and does not end in an
	// escaping backslash.
	if i < len(d.recent) {
		rk := d.recent[i]
		start := d.pos + 1
		if end := start + len(rk.raw); end < len(d.s) && d.s[end] == '"' && d.s[start:end] == rk.raw {
			d.pos = end + 1
			return rk.key, nil
		}
	}
	raw, plain, err := d.scanString()
	if err != nil {
		return "", err
	}
	rk, ok := d.keys[raw]
	if !ok {
		if d.keys == nil || len(d.keys) >= maxKeys {
			d.keys = make(map[string]recentKey, 64)
		}
		// The caches keep copies: raw is part of the document, which
		// they must not keep alive.
		if plain {
			rk.raw = strings.Clone(raw)
			rk.key = rk.raw
		} else {
			d.buf = appendUnquoted(d.buf[:0], raw)
			rk = recentKey{raw: strings.Clone(raw), key: string(d.buf)}
		}
		d.keys[rk.raw] = rk
	}
	switch {
	case i < len(d.recent):
		d.recent[i] = rk
	case i < maxRecent:
		d.recent = append(d.recent, rk)
	}
	return rk.key, nil
}

// str decodes the string at d.pos.
func (d *jsonDecoder) str() (string, error) {
	raw, plain, err := d.scanString()
	if err != nil || raw == "" {
		return "", err
	}
	if plain {
		return d.copy(raw), nil
	}
	d.buf = appendUnquoted(d.buf[:0], raw)
	return d.copy(unsafe.String(unsafe.SliceData(d.buf), len(d.buf))), nil
}

// arenaChunk is the size of an arena: the string values of a few dozen
// log lines, which are in flight together anyway. A string larger than
// an eighth of it gets its own allocation, so that an arena is not
// left mostly empty.
const arenaChunk = 4 << 10

// copy returns a copy of s in the arena. The arena is appended to but
// never written over, and a new one is made when it is full, so the
// strings handed out never change: that is what makes unsafe.String
// sound here. Each string would otherwise be its own allocation; this
// makes them one per arenaChunk bytes of strings, shared by the
// documents decoded one after the other, as the event.Boxer's slabs
// are.
func (d *jsonDecoder) copy(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > cap(d.arena)-len(d.arena) {
		if len(s) > arenaChunk/8 {
			return strings.Clone(s)
		}
		d.arena = make([]byte, 0, arenaChunk)
	}
	n := len(d.arena)
	d.arena = append(d.arena, s...)
	return unsafe.String(&d.arena[n], len(s))
}

// plainByte tells the bytes that a string holds as they are: not the
// quote that ends it, not a backslash, not a control character (which
// JSON refuses raw) and not part of a multi-byte UTF-8 sequence, which
// must be checked.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString reads the string at d.pos, checking it, and returns its
// text between the quotes; plain tells that the text is the string's
// value as it is, without escapes or invalid UTF-8. Most strings are
// plain ASCII, read by the first loop.
func (d *jsonDecoder) scanString() (raw string, plain bool, err error) {
	s, start := d.s, d.pos+1
	i := start
	i = event.SkipJSONSafe(s, i) // plainByte's bytes, 8 at a time
	if i < len(s) && s[i] == '"' {
		d.pos = i + 1
		return s[start:i], true, nil
	}
	escaped, high := false, false
	for i < len(s) {
		switch c := s[i]; {
		case plainByte[c]:
			i++
		case c == '"':
			d.pos = i + 1
			raw = s[start:i]
			return raw, !escaped && (!high || utf8.ValidString(raw)), nil
		case c == '\\':
			escaped = true
			n, err := d.escape(i)
			if err != nil {
				return "", false, err
			}
			i += n
		case c < 0x20:
			d.pos = i
			return "", false, d.syntax("in string literal")
		default:
			high = true
			i++
		}
	}
	d.pos = i
	return "", false, d.syntax("")
}

// escape checks the escape at offset i and returns its length.
func (d *jsonDecoder) escape(i int) (int, error) {
	s := d.s
	if i+1 >= len(s) {
		d.pos = len(s)
		return 0, d.syntax("")
	}
	switch s[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		for j := i + 2; j < i+6; j++ {
			if j >= len(s) || !isHex(s[j]) {
				d.pos = j
				return 0, d.syntax(`in \u hexadecimal character escape`)
			}
		}
		return 6, nil
	}
	d.pos = i + 1
	return 0, d.syntax("in string escape code")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// jsonHex4 returns the value of the four hex digits s starts with, which
// scanString checked.
func jsonHex4(s string) rune {
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendUnquoted appends the value of the string whose text between the
// quotes is raw, which scanString checked, as encoding/json unquotes
// it: escapes decoded, an escaped UTF-16 surrogate pair made one rune,
// and a lone surrogate, as each byte that is not part of valid UTF-8,
// made U+FFFD.
func appendUnquoted(dst []byte, raw string) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if raw[i+1] == 'u' {
				var r rune
				r, i = unescapeRune(raw, i)
				dst = utf8.AppendRune(dst, r)
				continue
			}
			dst = append(dst, unescapeByte[raw[i+1]])
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(raw[i:])
			if r == utf8.RuneError && n == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+n]...)
			}
			i += n
		}
	}
	return dst
}

// unescapeRune decodes the \\u escape at raw[i:], and the one after it
// when the two are a surrogate pair, and returns the rune and the
// offset after what it decoded.
func unescapeRune(raw string, i int) (rune, int) {
	r := jsonHex4(raw[i+2:])
	i += 6
	if !utf16.IsSurrogate(r) {
		return r, i
	}
	if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
		if pair := utf16.DecodeRune(r, jsonHex4(raw[i+2:])); pair != utf8.RuneError {
			return pair, i + 6
		}
	}
	return utf8.RuneError, i
}

// unescapeByte is the byte each one-byte escape stands for.
var unescapeByte = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// pow10 is the powers of ten that float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number reads the number at d.pos, checking it against JSON's grammar,
// which is stricter than strconv.ParseFloat's. A number of at most 15
// digits without exponent is its digits as an integer, held exactly by
// a float64, divided by a power of ten held exactly too: that division
// rounds correctly, so it is the value ParseFloat would return, which
// other numbers get from ParseFloat itself.
func (d *jsonDecoder) number() (float64, error) {
	s, start := d.s, d.pos
	i := start
	neg := s[i] == '-'
	if neg {
		i++
	}
	var m uint64
	digits, frac := 0, 0
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			m = m*10 + uint64(s[i]-'0')
			digits++
		}
	default:
		d.pos = i
		return 0, d.syntax("in numeric literal")
	}
	if i < len(s) && s[i] == '.' {
		if i++; i >= len(s) || s[i] < '0' || s[i] > '9' {
			d.pos = i
			return 0, d.syntax("after decimal point in numeric literal")
		}
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			m = m*10 + uint64(s[i]-'0')
			digits++
			frac++
		}
	}
	exp := i < len(s) && (s[i] == 'e' || s[i] == 'E')
	if exp {
		if i++; i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			d.pos = i
			return 0, d.syntax("in exponent of numeric literal")
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	d.pos = i
	if !exp && digits <= 15 {
		// m overflowed nowhere: 15 digits are below 2^53.
		f := float64(m) / pow10[frac]
		if neg {
			f = -f
		}
		return f, nil
	}
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		// Out of float64's range: encoding/json refuses it too.
		return 0, fmt.Errorf("%w: %.40q at offset %d", errNumber, s[start:i], start)
	}
	return f, nil
}
