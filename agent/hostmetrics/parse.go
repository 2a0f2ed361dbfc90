package hostmetrics

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ParseError reports a /proc or /sys file whose content this package
// cannot read: the file, the 1-based line, and what is wrong.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("parse %s line %d: %s", e.File, e.Line, e.Msg)
}

// lineReader walks data line by line without copying.
type lineReader struct {
	data []byte
	n    int // number of the line last returned, 1-based
}

func (r *lineReader) next() ([]byte, bool) {
	if len(r.data) == 0 {
		return nil, false
	}
	r.n++
	i := bytes.IndexByte(r.data, '\n')
	if i < 0 {
		line := r.data
		r.data = nil
		return line, true
	}
	line := r.data[:i]
	r.data = r.data[i+1:]
	return line, true
}

// errorf builds the ParseError for the line last returned.
func (r *lineReader) errorf(file, format string, args ...any) error {
	return &ParseError{File: file, Line: max(r.n, 1), Msg: fmt.Sprintf(format, args...)}
}

// splitFields appends the space- or tab-separated fields of line to
// dst[:0]; callers keep dst between calls so splitting allocates nothing.
func splitFields(dst [][]byte, line []byte) [][]byte {
	dst = dst[:0]
	i := 0
	for i < len(line) {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		start := i
		for i < len(line) && !isSpace(line[i]) {
			i++
		}
		if i > start {
			dst = append(dst, line[start:i])
		}
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// parseUint parses a decimal counter as the kernel prints it. It is
// strconv.ParseUint without the string conversion.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseFloat parses a plain decimal such as a load average; NaN, Inf
// and exponents are garbage in the files it reads.
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 64 {
		return 0, false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// quote shortens and quotes a piece of a bad line for an error message.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}

// validLabel reports whether b can be a label value: not empty and UTF-8,
// as Prometheus requires.
func validLabel(b []byte) bool { return len(b) > 0 && utf8.Valid(b) }
