package tail

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Defaults of Multiline.
const (
	DefaultMultilineMaxLines     = 500
	DefaultMultilineFlushTimeout = time.Second
)

// Multiline groups consecutive lines of a file into one event (a stack
// trace, a multi-line message). Exactly one of StartPattern and
// ContinuationPattern is set.
type Multiline struct {
	// StartPattern matches the first line of an event; lines that do not
	// match belong to the event before them.
	StartPattern string
	// ContinuationPattern matches the lines that belong to the event
	// before them; a line that does not match starts an event.
	ContinuationPattern string
	// MaxLines ends an event at this many lines. Default 500.
	MaxLines int
	// FlushTimeout ends an event that got no line for this long. Default
	// 1s. It is checked at every ScanInterval, so an event may wait up to
	// FlushTimeout + ScanInterval.
	FlushTimeout time.Duration
}

func (m *Multiline) validate() error {
	var errs []error
	if (m.StartPattern == "") == (m.ContinuationPattern == "") {
		errs = append(errs, errors.New("file source: multiline needs exactly one of start_pattern and continuation_pattern"))
	}
	for _, p := range []string{m.StartPattern, m.ContinuationPattern} {
		if _, err := regexp.Compile(p); err != nil {
			errs = append(errs, fmt.Errorf("file source: multiline pattern %q: %w", p, err))
		}
	}
	if m.MaxLines < 0 || m.FlushTimeout < 0 {
		errs = append(errs, errors.New("file source: multiline max_lines and flush_timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// joiner is a compiled Multiline.
type joiner struct {
	start, cont *regexp.Regexp
	maxLines    int
	timeout     time.Duration
}

func newJoiner(m *Multiline) *joiner {
	j := &joiner{maxLines: m.MaxLines, timeout: m.FlushTimeout}
	if m.StartPattern != "" {
		j.start = regexp.MustCompile(m.StartPattern) // checked by Validate
	} else {
		j.cont = regexp.MustCompile(m.ContinuationPattern)
	}
	if j.maxLines == 0 {
		j.maxLines = DefaultMultilineMaxLines
	}
	if j.timeout == 0 {
		j.timeout = DefaultMultilineFlushTimeout
	}
	return j
}

// startsEvent reports whether line b begins a new event.
func (j *joiner) startsEvent(b []byte) bool {
	if j.start != nil {
		return j.start.Match(b)
	}
	return !j.cont.Match(b)
}

// event is the multiline event being built for one file.
type event struct {
	buf      []byte // lines joined by '\n'
	off, end int64  // file offsets of its first byte and after its last line
	lines    int
	at       time.Time // when its last line was added
}

// line routes one line of f to the open batch, through the file's
// multiline event when multiline is configured. Pieces of split or
// truncated lines go out alone: joining them with '\n' would change the
// line.
func (t *Tailer) line(f *tracked, b []byte, off, end int64, kind lineKind) {
	switch kind {
	case linePiece:
		t.m.split.Inc()
	case lineTruncated:
		t.m.truncated.Inc()
	}
	j := t.joiner
	if j == nil || kind != lineWhole {
		t.flushEvent(f)
		t.add(f, b, off, end)
		return
	}
	ev := &f.event
	if ev.lines == 0 || j.startsEvent(b) || len(ev.buf)+1+len(b) > t.cfg.MaxLineBytes {
		t.flushEvent(f)
		ev.off = off
	} else {
		ev.buf = append(ev.buf, '\n')
	}
	ev.buf = append(ev.buf, b...)
	ev.end, ev.at = end, t.now
	ev.lines++
	if ev.lines >= j.maxLines {
		t.flushEvent(f)
	}
}

// flushEvent adds f's open multiline event, if any, to the batch.
func (t *Tailer) flushEvent(f *tracked) {
	ev := &f.event
	if ev.lines == 0 {
		return
	}
	t.add(f, ev.buf, ev.off, ev.end)
	ev.lines = 0
	ev.buf = ev.buf[:0]
	if cap(ev.buf) > 64<<10 { // a big event's memory is not kept per file
		ev.buf = nil
	}
}

// flushStaleEvents ends the events that waited FlushTimeout for a line.
func (t *Tailer) flushStaleEvents() {
	if t.joiner == nil {
		return
	}
	for _, f := range t.files {
		if f.event.lines > 0 && t.now.Sub(f.event.at) >= t.joiner.timeout {
			t.flushEvent(f)
		}
	}
}
