package protocol

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/broker/store/record"
)

// TagFilter is a parsed tag expression as RocketMQ writes them: "*" or ""
// for every message, or tags joined by "||" ("TagA || TagB") for the
// messages whose tag is one of them. The zero value matches everything.
type TagFilter struct {
	tags []string
	bits []uint64
}

// MaxTagExpr bounds the length of a tag expression.
const MaxTagExpr = 4096

// ParseTagFilter parses a tag expression.
func ParseTagFilter(expr string) (TagFilter, error) {
	if len(expr) > MaxTagExpr {
		return TagFilter{}, fmt.Errorf("tag expression of %d bytes, the limit is %d", len(expr), MaxTagExpr)
	}
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == "*" {
		return TagFilter{}, nil
	}
	var f TagFilter
	for _, t := range strings.Split(expr, "||") {
		t = strings.TrimSpace(t)
		if t == "" {
			return TagFilter{}, fmt.Errorf("tag expression %q: empty tag", expr)
		}
		if t == "*" {
			return TagFilter{}, nil
		}
		if strings.ContainsAny(t, " \t|&()") {
			return TagFilter{}, fmt.Errorf("tag expression %q: tag %q holds a space or operator; only \"A || B\" is supported", expr, t)
		}
		f.tags = append(f.tags, t)
		f.bits = append(f.bits, record.TagBit(t))
	}
	return f, nil
}

// All reports whether the filter matches every message.
func (f TagFilter) All() bool { return len(f.tags) == 0 }

// MatchBloom reports whether a batch with this tag bloom may hold a
// matching message; false is certain.
func (f TagFilter) MatchBloom(bloom uint64) bool {
	if f.All() {
		return true
	}
	for _, b := range f.bits {
		if bloom&b == b {
			return true
		}
	}
	return false
}

// Match reports whether a message with tag matches exactly.
func (f TagFilter) Match(tag string) bool {
	if f.All() {
		return true
	}
	for _, t := range f.tags {
		if t == tag {
			return true
		}
	}
	return false
}

// String returns the expression in its canonical form.
func (f TagFilter) String() string {
	if f.All() {
		return "*"
	}
	return strings.Join(f.tags, " || ")
}
