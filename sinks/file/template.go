package file

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/pipelines/event"
	"github.com/sluicehq/sluice/pipelines/template"
)

// pathTemplate is the parsed path: literal text, strftime conversions of
// the event's time and {{ }} references to its fields and meta.
type pathTemplate struct {
	parts []part
	// perEvent is set when a part takes a field or meta value, so the
	// path must be expanded for every event; otherwise it depends on the
	// time only and is cached for the span of its finest unit.
	perEvent bool
	// unit is the finest time conversion used (unitNone: the path is
	// constant).
	unit timeUnit
	// yearDay is set when %j is used.
	yearDay bool
}

type partKind uint8

const (
	partLiteral partKind = iota
	partTime             // verb is Y, m, d, H, M, S or j
	partField
	partMeta
)

type part struct {
	kind partKind
	verb byte
	text string // the literal, the field path or the meta key
}

// timeUnit orders the conversions from coarsest to finest.
type timeUnit uint8

const (
	unitNone timeUnit = iota
	unitYear
	unitMonth
	unitDay
	unitHour
	unitMinute
	unitSecond
)

var verbUnits = map[byte]timeUnit{
	'Y': unitYear, 'm': unitMonth, 'd': unitDay, 'j': unitDay,
	'H': unitHour, 'M': unitMinute, 'S': unitSecond,
}

// maxValueLen bounds what one field or meta value adds to a path, so an
// odd value cannot make a name longer than file systems take (255).
const maxValueLen = 128

// parseTemplate parses a path template; the error says what is wrong.
func parseTemplate(s string) (*pathTemplate, error) {
	t := &pathTemplate{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{kind: partLiteral, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '%':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%q ends in a lone %%: write %%%% for a literal %%", s)
			}
			i++
			v := s[i]
			if v == '%' {
				lit.WriteByte('%')
				continue
			}
			u, ok := verbUnits[v]
			if !ok {
				return nil, fmt.Errorf("%q: %%%c is not a conversion (want %%Y, %%m, %%d, %%H, %%M, %%S, %%j or %%%%)", s, v)
			}
			flush()
			t.parts = append(t.parts, part{kind: partTime, verb: v})
			t.unit = max(t.unit, u)
			t.yearDay = t.yearDay || v == 'j'
		case strings.HasPrefix(s[i:], "{{"):
			inner, _, ok := strings.Cut(s[i+2:], "}}")
			if !ok {
				return nil, fmt.Errorf("%q has a {{ with no }} after it", s)
			}
			p, err := parseRef(strings.TrimSpace(inner))
			if err != nil {
				return nil, fmt.Errorf("%q: %w", s, err)
			}
			flush()
			t.parts = append(t.parts, p)
			t.perEvent = true
			i += 2 + len(inner) + 1
		case strings.HasPrefix(s[i:], "}}"):
			return nil, fmt.Errorf("%q has a }} with no {{ before it", s)
		default:
			lit.WriteByte(s[i])
		}
	}
	flush()
	if strings.HasSuffix(s, "/") {
		return nil, fmt.Errorf("%q ends in /: want a file name after the last /", s)
	}
	return t, nil
}

func parseRef(ref string) (part, error) {
	name, meta, err := template.ParseRef(ref)
	if meta {
		return part{kind: partMeta, text: name}, err
	}
	return part{kind: partField, text: name}, err
}

// clock is the fields of a time the conversions print.
type clock struct {
	year, month, day, hour, minute, second, yearDay int
}

func clockOf(t time.Time, loc *time.Location, yearDay bool) clock {
	if loc == time.UTC {
		t = t.UTC()
	} else {
		t = t.In(loc)
	}
	var c clock
	var mon time.Month
	c.year, mon, c.day = t.Date()
	c.month = int(mon)
	c.hour, c.minute, c.second = t.Clock()
	if yearDay {
		c.yearDay = t.YearDay()
	}
	return c
}

// key packs the fields down to unit, so that two times with the same
// key expand to the same path.
func (c clock) key(u timeUnit) int64 {
	k := int64(c.year)
	for i, f := range [...]int{c.month, c.day, c.hour, c.minute, c.second} {
		if timeUnit(i)+unitMonth > u {
			break
		}
		k = k*100 + int64(f)
	}
	return k
}

// appendPath appends the path t expands to for e, whose time fields are c.
func (t *pathTemplate) appendPath(dst []byte, e *event.Event, c *clock) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case partLiteral:
			dst = append(dst, p.text...)
		case partTime:
			dst = appendVerb(dst, p.verb, c)
		case partMeta:
			dst = appendSafe(dst, e.Meta[p.text])
		case partField:
			v, _ := e.Get(p.text)
			switch x := v.(type) {
			case string:
				dst = appendSafe(dst, x)
			case nil: // absent or null
				dst = appendSafe(dst, "")
			default:
				dst = appendSafe(dst, event.Format(x))
			}
		}
	}
	return dst
}

func appendVerb(dst []byte, verb byte, c *clock) []byte {
	switch verb {
	case 'Y':
		return appendPadded(dst, c.year, 4)
	case 'm':
		return appendPadded(dst, c.month, 2)
	case 'd':
		return appendPadded(dst, c.day, 2)
	case 'H':
		return appendPadded(dst, c.hour, 2)
	case 'M':
		return appendPadded(dst, c.minute, 2)
	case 'S':
		return appendPadded(dst, c.second, 2)
	case 'j':
		return appendPadded(dst, c.yearDay, 3)
	}
	return dst
}

func appendPadded(dst []byte, v, width int) []byte {
	var tmp [20]byte
	digits := strconv.AppendInt(tmp[:0], int64(v), 10)
	for n := len(digits); n < width; n++ {
		dst = append(dst, '0')
	}
	return append(dst, digits...)
}

// appendSafe appends a value taken from an event so that it stays inside
// one path element: "/", "\", control characters and NUL become "_", an
// empty value is "_", a value made only of dots has them replaced (so
// neither "." nor ".." can be formed, even with a literal dot beside it:
// any ".." element of the path then comes from the template itself), and
// at most maxValueLen bytes are kept, cut at a character boundary.
func appendSafe(dst []byte, v string) []byte {
	if len(v) > maxValueLen {
		cut := maxValueLen
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	if v == "" {
		return append(dst, '_')
	}
	onlyDots := true
	start := len(dst)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '.' {
			onlyDots = false
		}
		if c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
			c = '_'
		}
		dst = append(dst, c)
	}
	if onlyDots {
		for i := start; i < len(dst); i++ {
			dst[i] = '_'
		}
	}
	return dst
}
