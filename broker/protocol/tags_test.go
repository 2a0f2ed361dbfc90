package protocol

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker/store/record"
)

func TestTagFilter(t *testing.T) {
	tests := []struct {
		expr    string
		want    string
		match   []string
		nomatch []string
		err     string
	}{
		{expr: "", want: "*", match: []string{"", "a"}},
		{expr: " * ", want: "*", match: []string{"x"}},
		{expr: "A", want: "A", match: []string{"A"}, nomatch: []string{"", "B", "a"}},
		{expr: "A || B", want: "A || B", match: []string{"A", "B"}, nomatch: []string{"C"}},
		{expr: "A||B||*", want: "*", match: []string{"C"}},
		{expr: "A || ", err: "empty tag"},
		{expr: "A && B", err: "operator"},
		{expr: strings.Repeat("a", MaxTagExpr+1), err: "limit"},
	}
	for _, tt := range tests {
		f, err := ParseTagFilter(tt.expr)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTagFilter(%q) error %v, want one containing %q", tt.expr, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTagFilter(%q): %v", tt.expr, err)
			continue
		}
		if f.String() != tt.want {
			t.Errorf("ParseTagFilter(%q) = %q, want %q", tt.expr, f.String(), tt.want)
		}
		for _, m := range tt.match {
			if !f.Match(m) || !f.MatchBloom(record.TagBloom(m, "other")) {
				t.Errorf("%q does not match tag %q", tt.expr, m)
			}
		}
		for _, m := range tt.nomatch {
			if f.Match(m) {
				t.Errorf("%q matches tag %q", tt.expr, m)
			}
		}
	}
	f, _ := ParseTagFilter("A || B")
	if f.MatchBloom(record.TagBloom("C")) && f.MatchBloom(record.TagBloom("D")) && f.MatchBloom(0) {
		t.Error("bloom of other tags always matches")
	}
	if f.MatchBloom(0) {
		t.Error("a batch without tags matches a tag filter")
	}
}
