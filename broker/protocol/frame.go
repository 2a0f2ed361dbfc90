package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the frame version this package speaks.
const Version = 1

// FrameHeaderSize is the size of a frame before its body, size included.
const FrameHeaderSize = 16

// DefaultMaxFrame bounds a frame: a full record (64 MiB) plus headroom.
const DefaultMaxFrame = 65 << 20

// Op is an operation.
type Op uint8

// Operations. Values are part of the protocol: never renumber.
const (
	OpHello         Op = 1
	OpProduce       Op = 2
	OpFetch         Op = 3
	OpCreateTopic   Op = 10
	OpDeleteTopic   Op = 11
	OpListTopics    Op = 12
	OpDescribeTopic Op = 13
	OpJoinGroup     Op = 20
	OpHeartbeat     Op = 21
	OpLeaveGroup    Op = 22
	OpCommitOffsets Op = 23
	OpFetchOffsets  Op = 24
	OpResetGroup    Op = 25
	OpListGroups    Op = 26
	OpDescribeGroup Op = 27
	OpGetMessage    Op = 30
	OpQueryKey      Op = 31
)

var opNames = map[Op]string{
	OpHello: "hello", OpProduce: "produce", OpFetch: "fetch",
	OpCreateTopic: "create_topic", OpDeleteTopic: "delete_topic", OpListTopics: "list_topics",
	OpDescribeTopic: "describe_topic", OpJoinGroup: "join_group", OpHeartbeat: "heartbeat",
	OpLeaveGroup: "leave_group", OpCommitOffsets: "commit_offsets", OpFetchOffsets: "fetch_offsets",
	OpResetGroup: "reset_group", OpListGroups: "list_groups", OpDescribeGroup: "describe_group",
	OpGetMessage: "get_message", OpQueryKey: "query_key",
}

func (o Op) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Known reports whether o is an operation of this protocol version.
func (o Op) Known() bool { _, ok := opNames[o]; return ok }

// Frame flags.
const (
	FlagResponse uint16 = 1 << 0
	FlagError    uint16 = 1 << 1
)

// Header is a frame without its body.
type Header struct {
	Op        Op
	Flags     uint16
	RequestID uint64
}

// IsResponse reports whether the frame answers a request.
func (h Header) IsResponse() bool { return h.Flags&FlagResponse != 0 }

// IsError reports whether the frame is an error response.
func (h Header) IsError() bool { return h.Flags&FlagError != 0 }

// ErrFrameTooLarge is returned for a frame whose size exceeds the limit;
// nothing was allocated for it.
var ErrFrameTooLarge = errors.New("frame too large")

// ErrBadFrame wraps every malformed-frame error.
var ErrBadFrame = errors.New("malformed frame")

// AppendFrame appends a frame with body to dst.
func AppendFrame(dst []byte, h Header, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(12+len(body)))
	dst = append(dst, Version, byte(h.Op))
	dst = binary.LittleEndian.AppendUint16(dst, h.Flags)
	dst = binary.LittleEndian.AppendUint64(dst, h.RequestID)
	return append(dst, body...)
}

// ParseFrameHeader decodes the 16 bytes of a frame header and returns the
// body length. It checks the size against maxFrame first.
func ParseFrameHeader(b []byte, maxFrame int) (Header, int, error) {
	if len(b) < FrameHeaderSize {
		return Header{}, 0, fmt.Errorf("%w: %d byte header", ErrBadFrame, len(b))
	}
	size := binary.LittleEndian.Uint32(b)
	if size < 12 {
		return Header{}, 0, fmt.Errorf("%w: size %d below the header size", ErrBadFrame, size)
	}
	if int64(size)+4 > int64(maxFrame) {
		return Header{}, 0, fmt.Errorf("%w: %d bytes, the limit is %d", ErrFrameTooLarge, int64(size)+4, maxFrame)
	}
	if b[4] != Version {
		return Header{}, 0, fmt.Errorf("%w: frame version %d, this peer speaks %d", ErrBadFrame, b[4], Version)
	}
	h := Header{Op: Op(b[5]), Flags: binary.LittleEndian.Uint16(b[6:]), RequestID: binary.LittleEndian.Uint64(b[8:])}
	if h.Flags&^(FlagResponse|FlagError) != 0 {
		return Header{}, 0, fmt.Errorf("%w: unknown flags %#x", ErrBadFrame, h.Flags)
	}
	return h, int(size) - 12, nil
}

// FrameReader reads frames from a stream, reusing its buffer: a body is
// valid until the next call to Read. After an error the stream is no longer
// at a frame boundary: the caller answers (if it can) and closes it.
type FrameReader struct {
	r        io.Reader
	maxFrame int
	hdr      [FrameHeaderSize]byte
	buf      []byte
}

// NewFrameReader reads frames of at most maxFrame bytes from r.
func NewFrameReader(r io.Reader, maxFrame int) *FrameReader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	return &FrameReader{r: r, maxFrame: maxFrame}
}

// keepBuf is the largest buffer a FrameReader keeps between frames, and
// the step by which it grows for a body that does not fit.
const keepBuf = 1 << 20

// Read returns the next frame. The body aliases an internal buffer. A
// stream that ends cleanly between frames gives io.EOF; one that ends
// inside a frame gives an error wrapping io.ErrUnexpectedEOF.
func (fr *FrameReader) Read() (Header, []byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("read frame header: %w", err)
		}
		return Header{}, nil, err
	}
	h, n, err := ParseFrameHeader(fr.hdr[:], fr.maxFrame)
	if err != nil {
		return h, nil, err
	}
	body, err := fr.readBody(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, fmt.Errorf("read %d byte body of %s frame: %w", n, h.Op, err)
	}
	// A large buffer from one big frame is not kept for ever.
	if cap(fr.buf) > 4*keepBuf && n < keepBuf {
		fr.buf = nil
	}
	return h, body, nil
}

// readBody reads n bytes into fr.buf. A size in the header is a claim, not
// data: the buffer grows at most to twice what has arrived, so a peer that
// announces a maximal frame and sends nothing costs keepBuf, not maxFrame.
func (fr *FrameReader) readBody(n int) ([]byte, error) {
	if cap(fr.buf) >= n {
		fr.buf = fr.buf[:n]
		_, err := io.ReadFull(fr.r, fr.buf)
		return fr.buf, err
	}
	buf := fr.buf[:0]
	for len(buf) < n {
		step := min(n-len(buf), max(len(buf), keepBuf))
		if cap(buf) < len(buf)+step {
			grown := make([]byte, len(buf), len(buf)+step)
			copy(grown, buf)
			buf = grown
		}
		if _, err := io.ReadFull(fr.r, buf[len(buf):len(buf)+step]); err != nil {
			fr.buf = buf[:0]
			return nil, err
		}
		buf = buf[:len(buf)+step]
	}
	fr.buf = buf
	return buf, nil
}
