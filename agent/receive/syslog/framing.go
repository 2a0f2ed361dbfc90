package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrFrameTooLarge is returned, wrapped, for a frame above the maximum
// size; the frame was skipped and the reader can go on.
var ErrFrameTooLarge = errors.New("syslog frame too large")

// FrameReader splits a TCP stream into messages. The framing is chosen
// from the first byte of the stream, as RFC 6587 section 3.4 suggests:
// a digit means octet counting ("LEN SP MSG", section 3.4.1), anything
// else ('<' normally) means non-transparent framing, one message per
// line (section 3.4.2); a trailing "\r" and NUL-terminated messages are
// accepted there too.
type FrameReader struct {
	r        *bufio.Reader
	max      int
	octets   bool
	detected bool
	buf      []byte
}

// NewFrameReader reads frames of at most max bytes from r.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next message, valid until the next call. It returns
// io.EOF at a clean end of stream, a wrapped ErrFrameTooLarge after
// skipping an oversized frame (call Next again), and any other error
// when the stream cannot be read or framed any more.
func (f *FrameReader) Next() ([]byte, error) {
	if !f.detected {
		c, err := f.r.Peek(1)
		if err != nil {
			return nil, err
		}
		f.octets, f.detected = c[0] >= '1' && c[0] <= '9', true
	}
	if f.octets {
		return f.nextCounted()
	}
	return f.nextLine()
}

// HasFrame reports whether a whole frame (or an error) is already
// buffered, so Next will not wait for the network.
func (f *FrameReader) HasFrame() bool {
	b, _ := f.r.Peek(f.r.Buffered())
	if len(b) == 0 {
		return false
	}
	if !f.octets || !f.detected {
		return !f.detected || bytes.IndexByte(b, '\n') >= 0
	}
	n := 0
	for i, c := range b {
		switch {
		case c == ' ' && i > 0:
			return len(b)-i-1 >= n || n > f.max
		case c < '0' || c > '9' || i >= 10:
			return true // Next fails at once
		}
		n = n*10 + int(c-'0')
	}
	return false
}

func (f *FrameReader) nextCounted() ([]byte, error) {
	n := 0
	for i := 0; ; i++ {
		c, err := f.r.ReadByte()
		if err != nil {
			if i == 0 && err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("octet count: %w", noEOF(err))
		}
		if c == ' ' && i > 0 {
			break
		}
		if c < '0' || c > '9' || i >= 10 || (i == 0 && c == '0') {
			return nil, fmt.Errorf("octet count: unexpected byte %q", c)
		}
		n = n*10 + int(c-'0')
	}
	if n > f.max {
		if _, err := f.r.Discard(n); err != nil {
			return nil, fmt.Errorf("skipping %d-byte frame: %w", n, noEOF(err))
		}
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, f.max)
	}
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, fmt.Errorf("frame of %d bytes: %w", n, noEOF(err))
	}
	return f.buf, nil
}

func (f *FrameReader) nextLine() ([]byte, error) {
	for {
		line, err := f.readLine()
		if err != nil || len(line) > 0 {
			return line, err
		}
		// Blank lines between messages are skipped.
	}
}

func (f *FrameReader) readLine() ([]byte, error) {
	f.buf = f.buf[:0]
	tooLarge := false
	for {
		chunk, err := f.r.ReadSlice('\n')
		if !tooLarge {
			if len(f.buf)+len(chunk) > f.max+2 { // room for "\r\n"
				tooLarge, f.buf = true, f.buf[:0]
			} else {
				f.buf = append(f.buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (err != io.EOF || (len(f.buf) == 0 && !tooLarge)) {
			return nil, err
		}
		break
	}
	line := bytes.TrimRight(f.buf, "\r\n\x00")
	if tooLarge || len(line) > f.max {
		return nil, fmt.Errorf("%w: line over %d bytes", ErrFrameTooLarge, f.max)
	}
	return line, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
