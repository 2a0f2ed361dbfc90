package transform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pipelines/event"
)

// template is text with {{ path }} and {{ meta.key }} references, parsed
// once and expanded per event.
type template struct {
	parts []templatePart
}

// templatePart is literal text or a reference (ref != "").
type templatePart struct {
	lit  string
	ref  string
	meta bool // ref is a meta key, not a field path
}

// parseTemplate parses s. "{{" opens a reference that "}}" closes; a
// "}}" with no "{{" before it is literal text.
func parseTemplate(s string) (*template, error) {
	t := &template{}
	for s != "" {
		open := strings.Index(s, "{{")
		if open < 0 {
			t.parts = append(t.parts, templatePart{lit: s})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, templatePart{lit: s[:open]})
		}
		rest := s[open+2:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			return nil, errors.New(`"{{" is not closed by "}}"`)
		}
		ref := strings.TrimSpace(rest[:end])
		if ref == "" {
			return nil, errors.New(`"{{ }}" names nothing: want {{ field.path }} or {{ meta.key }}`)
		}
		if strings.ContainsAny(ref, "{} \t") {
			return nil, fmt.Errorf("{{ %s }} is not a field path or meta.key", ref)
		}
		part := templatePart{ref: ref}
		if key, ok := strings.CutPrefix(ref, "meta."); ok {
			part.ref, part.meta = key, true
		}
		t.parts = append(t.parts, part)
		s = rest[end+2:]
	}
	return t, nil
}

// constant returns the text of a template with no references.
func (t *template) constant() (string, bool) {
	switch {
	case len(t.parts) == 0:
		return "", true
	case len(t.parts) == 1 && t.parts[0].ref == "":
		return t.parts[0].lit, true
	}
	return "", false
}

// field returns the path of a template that is exactly one field
// reference.
func (t *template) field() (string, bool) {
	if len(t.parts) == 1 && t.parts[0].ref != "" && !t.parts[0].meta {
		return t.parts[0].ref, true
	}
	return "", false
}

// append appends the template expanded for e to dst.
func (t *template) append(dst []byte, e *event.Event) []byte {
	for _, p := range t.parts {
		switch {
		case p.ref == "":
			dst = append(dst, p.lit...)
		case p.meta:
			dst = append(dst, e.Meta[p.ref]...)
		default:
			if v, ok := e.Get(p.ref); ok {
				dst = appendText(dst, v)
			}
		}
	}
	return dst
}

// appendText appends v as event.Format writes it, without allocating for
// the common types.
func appendText(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(dst, x...)
	case float64:
		return strconv.AppendFloat(dst, x, 'f', -1, 64)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case bool:
		return strconv.AppendBool(dst, x)
	}
	return append(dst, event.Format(v)...)
}
