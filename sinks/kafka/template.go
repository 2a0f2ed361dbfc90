package kafka

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/pipelines/event"
)

// template is a topic or key template: literal text and {{ ... }}
// references, parsed once in New.
type template struct {
	parts []part
}

// part is literal text, or a reference to a field (dotted path) or to a
// meta key ({{ meta.host }}).
type part struct {
	lit  string
	path string
	meta bool
}

// parseTemplate parses s; "" is the empty template.
func parseTemplate(s string) (template, error) {
	var t template
	orig, done := s, 0 // done: bytes of orig already parsed
	for s != "" {
		open := strings.Index(s, "{{")
		if open < 0 {
			t.parts = append(t.parts, part{lit: s})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, part{lit: s[:open]})
		}
		end := strings.Index(s[open:], "}}")
		if end < 0 {
			return template{}, fmt.Errorf("%q: {{ at offset %d is not closed with }}", orig, done+open)
		}
		ref := strings.TrimSpace(s[open+2 : open+end])
		if ref == "" || strings.ContainsAny(ref, "{} \t") {
			return template{}, fmt.Errorf("%q: %q is not a field path or meta.KEY", orig, s[open:open+end+2])
		}
		if key, ok := strings.CutPrefix(ref, "meta."); ok {
			t.parts = append(t.parts, part{path: key, meta: true})
		} else {
			t.parts = append(t.parts, part{path: ref})
		}
		s, done = s[open+end+2:], done+open+end+2
	}
	return t, nil
}

// literal returns the template's text when it references nothing.
func (t template) literal() (string, bool) {
	switch {
	case len(t.parts) == 0:
		return "", true
	case len(t.parts) == 1 && t.parts[0].path == "":
		return t.parts[0].lit, true
	}
	return "", false
}

// empty reports whether the template is "".
func (t template) empty() bool { return len(t.parts) == 0 }

// appendTo appends the template expanded for e; a missing field or meta
// key expands to nothing.
func (t template) appendTo(dst []byte, e *event.Event) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		switch {
		case p.path == "":
			dst = append(dst, p.lit...)
		case p.meta:
			dst = append(dst, e.Meta[p.path]...)
		default:
			v, ok := e.Get(p.path)
			if !ok {
				continue
			}
			if s, isString := v.(string); isString {
				dst = append(dst, s...)
			} else {
				dst = append(dst, event.Format(v)...)
			}
		}
	}
	return dst
}

// maxTopicLen is the longest topic name Kafka accepts.
const maxTopicLen = 249

func topicChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// sanitizeTopic makes b, an expanded topic, a name Kafka accepts: other
// characters become '_', the name is cut at 249 bytes, and "." and ".."
// become "_" and "__".
func sanitizeTopic(b []byte) []byte {
	if len(b) > maxTopicLen {
		b = b[:maxTopicLen]
	}
	for i, c := range b {
		if !topicChar(c) {
			b[i] = '_'
		}
	}
	if s := string(b); s == "." || s == ".." {
		for i := range b {
			b[i] = '_'
		}
	}
	return b
}

// topicCache interns expanded topic names, so that a templated topic
// costs no allocation per event once its values have been seen.
type topicCache struct {
	names map[string]string
}

// maxCachedTopics bounds the cache; a template over a field with
// unbounded values (which would make unbounded topics anyway) only
// stops being cached.
const maxCachedTopics = 1024

func (c *topicCache) intern(b []byte) string {
	if s, ok := c.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if c.names == nil {
		c.names = make(map[string]string)
	}
	if len(c.names) >= maxCachedTopics {
		clear(c.names)
	}
	c.names[s] = s
	return s
}
