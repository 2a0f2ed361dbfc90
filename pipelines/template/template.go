package template

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pipelines/event"
)

// Template is a parsed template; the zero value is the empty template.
type Template struct {
	parts []part
}

// part is literal text (ref == "") or a reference to a field or meta key.
type part struct {
	literal string
	ref     string
	meta    bool
}

// Parse parses s; the error says what is wrong in it.
func Parse(s string) (Template, error) {
	var t Template
	rest := s
	for rest != "" {
		open := strings.Index(rest, "{{")
		if open < 0 {
			if strings.Contains(rest, "}}") {
				return Template{}, fmt.Errorf("%q has a }} with no {{ before it", s)
			}
			t.parts = append(t.parts, part{literal: rest})
			break
		}
		if lit := rest[:open]; lit != "" {
			if strings.Contains(lit, "}}") {
				return Template{}, fmt.Errorf("%q has a }} with no {{ before it", s)
			}
			t.parts = append(t.parts, part{literal: lit})
		}
		inner, after, ok := strings.Cut(rest[open+2:], "}}")
		if !ok {
			return Template{}, fmt.Errorf("%q has a {{ with no }} after it", s)
		}
		p, err := parseRef(strings.TrimSpace(inner))
		if err != nil {
			return Template{}, fmt.Errorf("%q: %w", s, err)
		}
		t.parts = append(t.parts, p)
		rest = after
	}
	return t, nil
}

func parseRef(ref string) (part, error) {
	name, meta, err := ParseRef(ref)
	return part{ref: name, meta: meta}, err
}

// ParseRef parses what stands between {{ and }}, spaces trimmed: a field
// path, or meta.key (meta is then true and name the key). Templates of
// other shapes (the file sink's paths, with strftime conversions) use it
// for their references.
func ParseRef(ref string) (name string, meta bool, err error) {
	switch {
	case ref == "":
		return "", false, fmt.Errorf("empty {{ }}: want {{ field.path }} or {{ meta.key }}")
	case strings.Contains(ref, "{{"):
		return "", false, fmt.Errorf("{{ inside {{ }}")
	case strings.ContainsAny(ref, " \t\n|()"):
		return "", false, fmt.Errorf("{{ %s }} is not a field path or meta.key (no spaces, pipes or functions)", ref)
	}
	if key, ok := strings.CutPrefix(ref, "meta."); ok {
		if key == "" {
			return "", false, fmt.Errorf("{{ meta. }} names no meta key")
		}
		return key, true, nil
	}
	for seg := range strings.SplitSeq(ref, ".") {
		if seg == "" {
			return "", false, fmt.Errorf("field path %q has an empty segment", ref)
		}
	}
	return ref, false, nil
}

// AppendTo appends what t expands to for e: absent fields and meta keys
// expand empty, other values as event.Format writes them.
func (t Template) AppendTo(dst []byte, e *event.Event) []byte {
	for _, p := range t.parts {
		switch {
		case p.ref == "":
			dst = append(dst, p.literal...)
		case p.meta:
			dst = append(dst, e.Meta[p.ref]...)
		default:
			if v, ok := e.Get(p.ref); ok {
				dst = AppendText(dst, v)
			}
		}
	}
	return dst
}

// Literal returns the template's text when it references nothing.
func (t Template) Literal() (string, bool) {
	switch {
	case len(t.parts) == 0:
		return "", true
	case len(t.parts) == 1 && t.parts[0].ref == "":
		return t.parts[0].literal, true
	}
	return "", false
}

// Empty reports whether the template is "".
func (t Template) Empty() bool { return len(t.parts) == 0 }

// AppendText appends v as event.Format writes it, without allocating
// for the common types.
func AppendText(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(dst, x...)
	case float64:
		// JSON numbers are floats; most that end up in templates are
		// whole (status codes), and formatting those as integers is faster.
		if x == math.Trunc(x) && math.Abs(x) < 1e15 && (x != 0 || !math.Signbit(x)) {
			return strconv.AppendInt(dst, int64(x), 10)
		}
		return strconv.AppendFloat(dst, x, 'f', -1, 64)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case bool:
		return strconv.AppendBool(dst, x)
	case time.Time:
		return x.AppendFormat(dst, time.RFC3339Nano)
	case nil:
		return dst
	}
	return append(dst, event.Format(v)...)
}
