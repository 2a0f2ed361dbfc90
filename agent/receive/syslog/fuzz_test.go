package syslog

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

func FuzzParseRFC5424(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseRFC5424(b)
		if err != nil {
			return
		}
		if m.Facility > 23 || m.Severity > 7 {
			t.Fatalf("pri out of range: %d.%d", m.Facility, m.Severity)
		}
		if len(m.Msg) > 0 && !bytes.Contains(b, m.Msg) {
			t.Fatalf("msg %q not in input", m.Msg)
		}
	})
}

func FuzzParseRFC3164(f *testing.F) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := ParseRFC3164(b, now)
		if m.Facility > 23 || m.Severity > 7 {
			t.Fatalf("pri out of range: %d.%d", m.Facility, m.Severity)
		}
		if !bytes.HasSuffix(b, m.Msg) {
			t.Fatalf("msg %q is not the end of the input", m.Msg)
		}
		Parse(b, now)
	})
}

// FuzzOctetFraming reads a stream as frames: every frame is within the
// limit and is part of the input, and the reader always ends.
func FuzzOctetFraming(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		fr := NewFrameReader(bytes.NewReader(stream), 64)
		for i := 0; i <= len(stream); i++ {
			fr.HasFrame() // must not panic on any buffered prefix
			msg, err := fr.Next()
			if errors.Is(err, ErrFrameTooLarge) {
				continue
			}
			if err != nil {
				if err == io.EOF && i == 0 && len(bytes.Trim(stream, "\r\n\x00")) > 0 && !fr.octets {
					t.Fatalf("EOF before any frame of %q", stream)
				}
				return
			}
			if len(msg) > 64 || !bytes.Contains(stream, msg) {
				t.Fatalf("frame %q", msg)
			}
		}
		t.Fatalf("more frames than bytes in %q", stream)
	})
}
