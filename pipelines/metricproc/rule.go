package metricproc

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// rule is one relabel.Config prepared for the hot path. It computes what
// relabel.ProcessBuilder computes, rule by rule (the differential test
// checks that), with these differences in cost only: matches that need
// no capture groups use Prometheus's FastRegexMatcher (prefixes and
// suffixes without running the regex) or, for a few literals,
// literalMatcher, a
// replace's result is remembered for the next series with the same
// input, and strings are built in reused buffers.
type rule struct {
	cfg     relabel.Config
	sources []string
	// match is the anchored regex as a boolean matcher.
	match func(string) bool
	// targetVars and replVars tell whether target_label and replacement
	// use capture groups ($1, ${name}).
	targetVars, replVars bool
	// matchesAll is set when the regex is "(.*)": it matches anything,
	// its group 1 being the whole input.
	matchesAll bool
}

func newRule(rc *relabel.Config) (*rule, error) {
	ru := &rule{cfg: *rc}
	ru.cfg.NameValidationScheme = nameValidation
	for _, n := range rc.SourceLabels {
		ru.sources = append(ru.sources, string(n))
	}
	m, err := labels.NewFastRegexMatcher(rc.Regex.String())
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", rc.Regex.String(), err)
	}
	ru.match = m.MatchString
	if set := m.SetMatches(); len(set) > 0 && len(set) <= maxLiteralMatches {
		ru.match = literalMatcher(set)
	}
	ru.targetVars = strings.Contains(rc.TargetLabel, "$")
	ru.replVars = strings.Contains(rc.Replacement, "$")
	ru.matchesAll = rc.Regex.String() == "(.*)"
	return ru, nil
}

// maxLiteralMatches is the most literals a regex may be an alternation
// of for literalMatcher to test them; FastRegexMatcher is faster beyond.
const maxLiteralMatches = 8

// literalMatcher matches exactly the strings of set: the regex is an
// alternation of literals (as labeldrop's "a|b" mostly is), which
// FastRegexMatcher also sees but reaches through several calls.
func literalMatcher(set []string) func(string) bool {
	return func(s string) bool {
		for _, v := range set {
			if s == v {
				return true
			}
		}
		return false
	}
}

// replaceMemo is the outcome of a replace rule for one input value.
type replaceMemo struct {
	valid   bool
	input   string
	matched bool
	target  string // "" when the expanded target is not a valid name
	value   string
}

// apply runs rule i on w.ls and reports whether the series is kept.
func (w *relabeler) apply(i int, ru *rule) bool {
	cfg := &ru.cfg
	val, scratch := w.sourceValue(ru)
	switch cfg.Action {
	case relabel.Drop:
		return !ru.match(val)
	case relabel.Keep:
		return ru.match(val)
	case relabel.DropEqual:
		return w.ls.get(cfg.TargetLabel) != val
	case relabel.KeepEqual:
		return w.ls.get(cfg.TargetLabel) == val
	case relabel.Replace:
		w.replace(i, ru, val)
	case relabel.Lowercase:
		w.setDerived(cfg.TargetLabel, strings.ToLower(val), val, scratch)
	case relabel.Uppercase:
		w.setDerived(cfg.TargetLabel, strings.ToUpper(val), val, scratch)
	case relabel.HashMod:
		w.joinBuf = append(w.joinBuf[:0], val...)
		hash := md5.Sum(w.joinBuf)
		// The last 8 bytes, as Prometheus.
		mod := binary.BigEndian.Uint64(hash[8:]) % cfg.Modulus
		w.result = strconv.AppendUint(w.result[:0], mod, 10)
		w.ls.set(cfg.TargetLabel, w.arena.string(w.result))
	case relabel.LabelMap:
		w.ls.each(func(name, value string) {
			if ru.match(name) {
				w.ls.set(cfg.Regex.ReplaceAllString(name, cfg.Replacement), value)
			}
		})
	case relabel.LabelDrop:
		w.ls.deleteWhere(ru.match, true)
	case relabel.LabelKeep:
		w.ls.deleteWhere(ru.match, false)
	}
	return true
}

// sourceValue returns the source labels' values joined by the
// separator. scratch tells that the string lives in w.joinBuf and is
// overwritten by the next rule: it must be copied to be kept.
func (w *relabeler) sourceValue(ru *rule) (val string, scratch bool) {
	switch len(ru.sources) {
	case 0:
		return "", false
	case 1:
		return w.ls.get(ru.sources[0]), false
	}
	buf := w.joinBuf[:0]
	for j, n := range ru.sources {
		if j > 0 {
			buf = append(buf, ru.cfg.Separator...)
		}
		buf = append(buf, w.ls.get(n)...)
	}
	w.joinBuf = buf
	return unsafe.String(unsafe.SliceData(buf), len(buf)), true
}

// setDerived sets name to v, computed from val; v is copied out of the
// scratch buffer when it is val itself.
func (w *relabeler) setDerived(name, v, val string, scratch bool) {
	if scratch && len(v) > 0 && unsafe.StringData(v) == unsafe.StringData(val) {
		v = w.arena.copy(v)
	}
	w.ls.set(name, v)
}

// replace is the replace action: when the regex matches val, the
// expanded replacement is written to the expanded target_label.
func (w *relabeler) replace(i int, ru *rule, val string) {
	cfg := &ru.cfg
	if !ru.targetVars && !ru.replVars {
		// Nothing to expand: a match is all it takes.
		if ru.match(val) {
			w.ls.set(cfg.TargetLabel, cfg.Replacement)
		}
		return
	}
	memo := &w.last[i]
	if !memo.valid || memo.input != val {
		w.computeReplace(ru, val, memo)
	}
	if !memo.matched || memo.target == "" {
		return
	}
	w.ls.set(memo.target, memo.value)
}

// computeReplace fills memo with the outcome of a replace with capture
// groups for val.
func (w *relabeler) computeReplace(ru *rule, val string, memo *replaceMemo) {
	cfg := &ru.cfg
	// The memo keeps its own copy of the input: val is scratch space, or
	// a label of an event that must not be kept alive by the memo.
	val = w.arena.copy(val)
	*memo = replaceMemo{valid: true, input: val}
	var whole [4]int
	var idx []int
	if ru.matchesAll {
		whole = [4]int{0, len(val), 0, len(val)}
		idx = whole[:]
	} else if idx = cfg.Regex.FindStringSubmatchIndex(val); idx == nil {
		return
	}
	memo.matched = true
	target := cfg.TargetLabel
	if ru.targetVars {
		w.target = cfg.Regex.ExpandString(w.target[:0], cfg.TargetLabel, val, idx)
		if !cfg.NameValidationScheme.IsValidLabelName(unsafe.String(unsafe.SliceData(w.target), len(w.target))) {
			return
		}
		target = w.arena.string(w.target)
	}
	memo.target = target
	w.result = cfg.Regex.ExpandString(w.result[:0], cfg.Replacement, val, idx)
	memo.value = w.arena.string(w.result)
}

// arena hands out strings copied into large chunks, so that the values
// relabelling creates cost no allocation each. Bytes handed out are
// never written again: a chunk lives as long as any of its strings.
type arena struct {
	buf []byte
}

const arenaChunk = 16 << 10

func (a *arena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, max(arenaChunk, len(b)))
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// copy is string for a string.
func (a *arena) copy(s string) string {
	return a.string(unsafe.Slice(unsafe.StringData(s), len(s)))
}
