package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestFrameRoundTrip(t *testing.T) {
	frames := []struct {
		h    Header
		body []byte
	}{
		{Header{Op: OpHello, RequestID: 1}, []byte(`{"version":1}`)},
		{Header{Op: OpProduce, Flags: FlagResponse, RequestID: 2}, nil},
		{Header{Op: OpFetch, Flags: FlagResponse | FlagError, RequestID: 1<<64 - 1}, []byte{0}},
		{Header{Op: Op(200), RequestID: 0}, bytes.Repeat([]byte("x"), 3<<20)}, // larger than keepBuf
		{Header{Op: OpQueryKey, RequestID: 7}, []byte("after a large one")},
	}
	var stream []byte
	for _, f := range frames {
		before := len(stream)
		stream = AppendFrame(stream, f.h, f.body)
		if got, want := len(stream)-before, FrameHeaderSize+len(f.body); got != want {
			t.Fatalf("frame of %d byte body is %d bytes, want %d", len(f.body), got, want)
		}
	}
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(stream),
		"one byte": iotest.OneByteReader(bytes.NewReader(stream)),
		"half":     iotest.HalfReader(bytes.NewReader(stream)),
	} {
		t.Run(name, func(t *testing.T) {
			fr := NewFrameReader(r, 0)
			for i, f := range frames {
				h, body, err := fr.Read()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if h != f.h {
					t.Errorf("frame %d header %+v, want %+v", i, h, f.h)
				}
				if !bytes.Equal(body, f.body) {
					t.Errorf("frame %d body of %d bytes differs from the %d sent", i, len(body), len(f.body))
				}
				if h.IsResponse() != (f.h.Flags&FlagResponse != 0) || h.IsError() != (f.h.Flags&FlagError != 0) {
					t.Errorf("frame %d: IsResponse %v IsError %v for flags %#x", i, h.IsResponse(), h.IsError(), h.Flags)
				}
			}
			if _, _, err := fr.Read(); err != io.EOF {
				t.Fatalf("Read at the end of the stream: %v, want io.EOF", err)
			}
			if cap(fr.buf) > 4*keepBuf {
				t.Errorf("reader keeps a %d byte buffer after a small frame", cap(fr.buf))
			}
		})
	}
}

// header builds a raw frame header.
func header(size uint32, ver, op byte, flags uint16, id uint64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, size)
	b = append(b, ver, op)
	b = binary.LittleEndian.AppendUint16(b, flags)
	return binary.LittleEndian.AppendUint64(b, id)
}

func TestParseFrameHeader(t *testing.T) {
	tests := []struct {
		name     string
		b        []byte
		max      int
		want     Header
		bodyLen  int
		wantErr  error
		errMatch string
	}{
		{name: "empty body", b: header(12, 1, 3, 0, 9), max: 100, want: Header{Op: OpFetch, RequestID: 9}},
		{name: "body", b: header(112, 1, 2, 1, 5), max: 1000, want: Header{Op: OpProduce, Flags: FlagResponse, RequestID: 5}, bodyLen: 100},
		{name: "exactly the limit", b: header(96, 1, 2, 3, 5), max: 100, want: Header{Op: OpProduce, Flags: 3, RequestID: 5}, bodyLen: 84},
		{name: "unknown op is the caller's business", b: header(12, 1, 99, 0, 1), max: 100, want: Header{Op: 99, RequestID: 1}},
		{name: "short", b: header(12, 1, 1, 0, 1)[:15], max: 100, wantErr: ErrBadFrame, errMatch: "15 byte header"},
		{name: "size below header", b: header(11, 1, 1, 0, 1), max: 100, wantErr: ErrBadFrame, errMatch: "below"},
		{name: "one over the limit", b: header(97, 1, 1, 0, 1), max: 100, wantErr: ErrFrameTooLarge},
		{name: "largest size", b: header(1<<32-1, 1, 1, 0, 1), max: DefaultMaxFrame, wantErr: ErrFrameTooLarge},
		{name: "bad version", b: header(12, 2, 1, 0, 1), max: 100, wantErr: ErrBadFrame, errMatch: "version 2"},
		{name: "version 0", b: header(12, 0, 1, 0, 1), max: 100, wantErr: ErrBadFrame, errMatch: "version 0"},
		{name: "unknown flags", b: header(12, 1, 1, 4, 1), max: 100, wantErr: ErrBadFrame, errMatch: "flags 0x4"},
		{name: "high flag", b: header(12, 1, 1, 0x8000, 1), max: 100, wantErr: ErrBadFrame, errMatch: "flags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := ParseFrameHeader(tt.b, tt.max)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errMatch) {
					t.Fatalf("error %v, want %v containing %q", err, tt.wantErr, tt.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h != tt.want || n != tt.bodyLen {
				t.Fatalf("got %+v with %d byte body, want %+v with %d", h, n, tt.want, tt.bodyLen)
			}
		})
	}
}

func TestFrameReaderErrors(t *testing.T) {
	good := AppendFrame(nil, Header{Op: OpFetch, RequestID: 3}, []byte("0123456789"))
	tests := []struct {
		name    string
		stream  []byte
		max     int
		frames  int // good frames before the error
		wantErr error
	}{
		{name: "empty stream", stream: nil, wantErr: io.EOF},
		{name: "clean end", stream: good, frames: 1, wantErr: io.EOF},
		{name: "truncated header", stream: good[:7], wantErr: io.ErrUnexpectedEOF},
		{name: "truncated body", stream: good[:len(good)-1], wantErr: io.ErrUnexpectedEOF},
		{name: "truncated second body", stream: append(bytes.Clone(good), good[:FrameHeaderSize+1]...), frames: 1, wantErr: io.ErrUnexpectedEOF},
		{name: "body never sent", stream: good[:FrameHeaderSize], wantErr: io.ErrUnexpectedEOF},
		{name: "oversized", stream: good, max: len(good) - 1, wantErr: ErrFrameTooLarge},
		{name: "bad version", stream: append(header(12, 9, 1, 0, 1), good...), wantErr: ErrBadFrame},
		{name: "unknown flags", stream: header(12, 1, 1, 0x10, 1), wantErr: ErrBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := NewFrameReader(bytes.NewReader(tt.stream), tt.max)
			for i := range tt.frames {
				if _, _, err := fr.Read(); err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
			}
			_, body, err := fr.Read()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == io.EOF && err != io.EOF {
				t.Fatalf("a clean end gives %v, not io.EOF itself", err)
			}
			if body != nil {
				t.Errorf("a failed Read returned a %d byte body", len(body))
			}
		})
	}
}

// stalled serves some bytes and then fails as a connection would that
// stays open and sends nothing.
type stalled struct{ r io.Reader }

var errStalled = errors.New("stalled")

func (s stalled) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		return n, errStalled
	}
	return n, err
}

// allocatedBy returns how many bytes fn allocates.
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A size field is a claim, not data: a frame over the limit is refused
// before its body is allocated, and one under it costs memory only as its
// bytes arrive.
func TestFrameReaderAllocatesOnlyWhatArrives(t *testing.T) {
	t.Run("over the limit", func(t *testing.T) {
		stream := header(DefaultMaxFrame, 1, byte(OpProduce), 0, 1)
		var err error
		n := allocatedBy(func() { _, _, err = NewFrameReader(bytes.NewReader(stream), 0).Read() })
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("error %v, want ErrFrameTooLarge", err)
		}
		if n > 64<<10 {
			t.Fatalf("refusing an oversized frame allocated %d bytes", n)
		}
	})
	t.Run("announced, not sent", func(t *testing.T) {
		stream := append(header(DefaultMaxFrame-4, 1, byte(OpProduce), 0, 1), make([]byte, 1000)...)
		var err error
		n := allocatedBy(func() { _, _, err = NewFrameReader(stalled{bytes.NewReader(stream)}, 0).Read() })
		if !errors.Is(err, errStalled) {
			t.Fatalf("error %v, want the stream's", err)
		}
		if n > 2*keepBuf {
			t.Fatalf("a frame announcing %d bytes and sending 1000 allocated %d", DefaultMaxFrame, n)
		}
	})
}

func TestOpNames(t *testing.T) {
	for op, name := range opNames {
		if !op.Known() || op.String() != name {
			t.Errorf("op %d: Known %v, String %q, want %q", uint8(op), op.Known(), op.String(), name)
		}
	}
	if Op(0).Known() || Op(255).Known() || Op(4).String() != "op(4)" {
		t.Errorf("unknown ops: Known(0) %v, Known(255) %v, String(4) %q", Op(0).Known(), Op(255).Known(), Op(4).String())
	}
}
