package parse

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// LogfmtConfig is parse_logfmt: the field holds key=value pairs.
//
// The syntax is go-logfmt's, as Grafana Loki's `| logfmt` reads it:
// pairs are separated by spaces; a key is a run of bytes above space
// other than = and "; a value is either bare (bytes above space other
// than = and ") or double-quoted with JSON's escapes (\" \\ \n \t
// \uXXXX ...). A key without =, or with = and nothing after it, has the
// value "" (as in Loki; Vector and Fluent Bit say true instead).
// Values stay strings, and a repeated key keeps its last value.
//
// Parsing is strict, as go-logfmt's decoder (and Loki's --strict): a
// line with an unterminated quote, a stray = or ", an unknown escape or
// a key that is not valid UTF-8 is an error, and none of its pairs are
// kept. A line of plain words parses, each word a key with value "".
type LogfmtConfig struct {
	Common `yaml:",inline"`
}

// Validate checks the keys.
func (c *LogfmtConfig) Validate() error { return errors.Join(c.validate()...) }

// Logfmt is the parse_logfmt processor.
type Logfmt struct {
	base
	cfg Common
}

// NewLogfmt returns a parse_logfmt processor.
func NewLogfmt(cfg LogfmtConfig, set component.Settings) (*Logfmt, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	return &Logfmt{base: newBase(c.OnError, set), cfg: c}, nil
}

// Process parses the field of each log event.
func (p *Logfmt) Process(events []*event.Event) []*event.Event { return p.run(events, p) }

func (p *Logfmt) parse(e *event.Event) error {
	s, err := source(e, p.cfg.Field)
	if err != nil {
		return err
	}
	m, err := decodeLogfmt(s, p.cfg.room(e, 0))
	if err != nil {
		return &syntaxError{field: p.cfg.Field, input: s, err: err}
	}
	p.cfg.store(e, m)
	return nil
}

// logfmtError is a syntax error at a byte offset of the line.
type logfmtError struct {
	pos int
	msg string
}

func (e *logfmtError) Error() string { return fmt.Sprintf("logfmt: at byte %d: %s", e.pos, e.msg) }

// decodeLogfmt returns the pairs of line; keys and values without
// escapes are substrings of line, so the common line allocates only
// the map. The map has room for extra more keys.
func decodeLogfmt(line string, extra int) (map[string]any, error) {
	m := make(map[string]any, countPairs(line)+extra)
	for i := 0; ; {
		for i < len(line) && line[i] <= ' ' {
			i++
		}
		if i == len(line) {
			return m, nil
		}
		key, val, next, err := logfmtPair(line, i)
		if err != nil {
			return nil, err
		}
		m[key] = val
		i = next
	}
}

// countPairs estimates the number of pairs: the number of = signs, or 1.
func countPairs(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '=' {
			n++
		}
	}
	return max(n, 1)
}

// logfmtPair reads the pair starting at line[i], a byte above space,
// and returns it and where the next one may start.
func logfmtPair(line string, i int) (key, val string, next int, err error) {
	start := i
	ascii := true
	for ; i < len(line) && line[i] > ' ' && line[i] != '='; i++ {
		switch c := line[i]; {
		case c == '"':
			return "", "", 0, &logfmtError{i, `unexpected '"' in a key`}
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if i == start {
		return "", "", 0, &logfmtError{i, "unexpected '=': a value without a key"}
	}
	key = line[start:i]
	if !ascii && !utf8.ValidString(key) {
		return "", "", 0, &logfmtError{start, "key is not valid UTF-8"}
	}
	if i == len(line) || line[i] != '=' {
		return key, "", i, nil // a bare key
	}
	i++ // the =
	if i == len(line) || line[i] <= ' ' {
		return key, "", i, nil
	}
	if line[i] == '"' {
		val, next, err = logfmtQuoted(line, i)
		return key, val, next, err
	}
	start = i
	for ; i < len(line) && line[i] > ' '; i++ {
		if c := line[i]; c == '=' || c == '"' {
			return "", "", 0, &logfmtError{i, fmt.Sprintf("unexpected %q in the value of %s (quote values holding = or \")", c, key)}
		}
	}
	return key, line[start:i], i, nil
}

// logfmtQuoted reads the quoted value starting at line[i] == '"'.
func logfmtQuoted(line string, i int) (string, int, error) {
	escaped := false
	for j := i + 1; j < len(line); j++ {
		switch line[j] {
		case '\\':
			escaped = true
			j++ // whatever follows is escaped, including a quote
		case '"':
			if !escaped {
				return line[i+1 : j], j + 1, nil
			}
			v, err := unquoteJSON(line[i : j+1])
			if err != nil {
				return "", 0, &logfmtError{i, "invalid quoted value: " + err.Error()}
			}
			return v, j + 1, nil
		}
	}
	return "", 0, &logfmtError{i, "unterminated quoted value"}
}

// unquoteJSON unquotes a double-quoted string with JSON's escapes
// (\" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs joined; a lone
// surrogate becomes U+FFFD, as with encoding/json).
func unquoteJSON(q string) (string, error) {
	s := q[1 : len(q)-1]
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i == len(s) {
			return "", errors.New("trailing backslash")
		}
		switch s[i] {
		case '"', '\\', '/':
			b = append(b, s[i])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n, err := unicodeEscape(s[i-1:])
			if err != nil {
				return "", err
			}
			b = utf8.AppendRune(b, r)
			i += n - 2
		default:
			return "", fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return string(b), nil
}

// unicodeEscape reads \uXXXX, or a surrogate pair \uXXXX\uXXXX, at the
// start of s and returns the rune and the bytes read.
func unicodeEscape(s string) (rune, int, error) {
	r, ok := hex4(s)
	if !ok {
		return 0, 0, fmt.Errorf("invalid escape %.6q", s)
	}
	if !utf16IsHigh(r) {
		if utf16IsLow(r) {
			return utf8.RuneError, 6, nil
		}
		return r, 6, nil
	}
	if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
		if lo, ok := hex4(s[6:]); ok && utf16IsLow(lo) {
			return 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00), 12, nil
		}
	}
	return utf8.RuneError, 6, nil
}

func hex4(s string) (rune, bool) {
	if len(s) < 6 {
		return 0, false
	}
	v, err := strconv.ParseUint(s[2:6], 16, 16)
	return rune(v), err == nil
}

func utf16IsHigh(r rune) bool { return r >= 0xd800 && r < 0xdc00 }
func utf16IsLow(r rune) bool  { return r >= 0xdc00 && r < 0xe000 }
