package loki

import (
	"context"
	"strconv"
	"unsafe"

	"github.com/sluicehq/sluice/pipelines/event"
)

// The JSON around streams and entries in a push body.
const (
	pushHead    = `{"streams":[`
	streamHead  = `{"stream":`
	valuesHead  = `,"values":[`
	streamClose = `]},`  // between two streams
	pushClose   = `]}]}` // closes values, stream, streams, body
)

// pushAll sends s.entries (grouped by stream, sorted) in as many pushes
// as batch_bytes asks for, one after the other.
func (s *Sink) pushAll(ctx context.Context) error {
	body := append(s.body[:0], pushHead...)
	cur, n := -1, 0 // the stream open at the end of body; entries in body
	for i := range s.entries {
		en := &s.entries[i]
		s.line = s.appendEntry(s.line[:0], en)
		if n > 0 && len(body)+s.growth(en.stream, cur)+len(s.line)+len(pushClose) > s.batchBytes {
			if err := s.send.Post(ctx, append(body, pushClose...), n); err != nil {
				s.body = body
				return err
			}
			body, cur, n = append(body[:0], pushHead...), -1, 0
		}
		switch {
		case en.stream == cur:
			body = append(body, ',')
		case cur >= 0:
			body = append(body, streamClose...)
			fallthrough
		default:
			body = append(body, streamHead...)
			body = append(body, s.streams[en.stream].labels...)
			body = append(body, valuesHead...)
			cur = en.stream
		}
		body = append(body, s.line...)
		n++
	}
	err := s.send.Post(ctx, append(body, pushClose...), n)
	s.body = body
	return err
}

// growth is how many bytes besides the entry itself adding an entry of
// stream to a body whose open stream is cur takes.
func (s *Sink) growth(stream, cur int) int {
	switch {
	case stream == cur:
		return 1
	case cur >= 0:
		return len(streamClose) + len(streamHead) + len(s.streams[stream].labels) + len(valuesHead)
	}
	return len(streamHead) + len(s.streams[stream].labels) + len(valuesHead)
}

// appendEntry appends en as Loki wants it: ["<unix ns>", "<line>"] or
// ["<unix ns>", "<line>", {structured metadata}].
func (s *Sink) appendEntry(dst []byte, en *entry) []byte {
	dst = append(dst, `["`...)
	dst = strconv.AppendInt(dst, en.ts, 10)
	dst = append(dst, `",`...)
	if s.json {
		s.scratch = event.AppendJSON(s.scratch[:0], en.ev)
		dst = event.AppendString(dst, bytesString(s.scratch))
	} else {
		dst = appendLine(dst, en.ev)
	}
	if len(s.meta) > 0 {
		mark := len(dst)
		dst = s.appendObject(append(dst, ",{"...), s.meta, en.ev)
		if len(dst) == mark+len(",{}") {
			dst = dst[:mark] // no structured metadata for this event
		}
	}
	return append(dst, ']')
}

// appendLine appends the message field as a JSON string; a message that
// is not a string is formatted, an event without one has an empty line.
func appendLine(dst []byte, e *event.Event) []byte {
	switch v := e.Fields.Value(event.FieldMessage).(type) {
	case string:
		return event.AppendString(dst, v)
	case nil:
		return append(dst, `""`...)
	default:
		return event.AppendString(dst, event.Format(v))
	}
}

// bytesString returns b as a string without copying it. The caller
// must not change b while the string is in use: here the string is only
// passed to event.AppendString, which copies it into another buffer.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
