package httplog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Body formats.
const (
	formatNDJSON = iota
	formatArray
	formatText
)

// LineError is a malformed event; Line counts from 1.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

var errNotObject = errors.New("not a JSON object")

// SplitEvents splits body into events, each a sub-slice of body. json
// selects JSON (an array if the first non-space byte is '[', NDJSON
// otherwise); else every non-blank line is an event.
func SplitEvents(body []byte, json bool) ([][]byte, error) {
	if !json {
		return splitLines(body, nil)
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		return splitArray(body)
	}
	return splitLines(body, checkObject)
}

func checkObject(b []byte) error {
	if b[0] != '{' || !json.Valid(b) {
		return errNotObject
	}
	return nil
}

// splitLines returns the non-blank lines of body without "\r\n",
// checked by check when not nil.
func splitLines(body []byte, check func([]byte) error) ([][]byte, error) {
	var events [][]byte
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if check != nil {
			if err := check(bytes.TrimSpace(line)); err != nil {
				return nil, &LineError{Line: n, Err: err}
			}
		}
		events = append(events, line)
	}
	return events, nil
}

// splitArray returns the elements of a JSON array of objects, as sent.
func splitArray(body []byte) ([][]byte, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		line := 1
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			line = 1 + bytes.Count(body[:min(int(se.Offset), len(body))], []byte("\n"))
		}
		return nil, &LineError{Line: line, Err: err}
	}
	events := make([][]byte, 0, len(elems))
	for i, e := range elems {
		if len(e) == 0 || e[0] != '{' {
			// json.RawMessage copies; find the element's line by its
			// position among the elements instead.
			return nil, &LineError{Line: lineOfElement(body, i), Err: fmt.Errorf("element %d: %w", i, errNotObject)}
		}
		events = append(events, e)
	}
	return events, nil
}

// lineOfElement finds the line of the i-th top-level array element by
// decoding tokens up to it.
func lineOfElement(body []byte, i int) int {
	d := json.NewDecoder(bytes.NewReader(body))
	if _, err := d.Token(); err != nil { // '['
		return 1
	}
	for k := 0; k < i; k++ {
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			return 1
		}
	}
	off := int(d.InputOffset())
	rest := body[off:]
	off += len(rest) - len(bytes.TrimLeft(rest, " \t\r\n,"))
	return 1 + bytes.Count(body[:min(off, len(body))], []byte("\n"))
}
