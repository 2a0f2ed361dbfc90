package tail

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// fingerprintBytes is how much of a file's start identifies it.
const fingerprintBytes = 1024

type fileID struct{ dev, ino uint64 }

func idOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, true
}

type fingerprint struct {
	n    int
	hash uint64
}

// fingerprintOf hashes the first n bytes of f (n at most
// fingerprintBytes), with n, so files that share a prefix but not a
// length are told apart while they are short.
func fingerprintOf(f *os.File, n int64) (fingerprint, error) {
	n = min(n, fingerprintBytes)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
		return fingerprint{}, err
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d:", n)
	h.Write(buf)
	return fingerprint{n: int(n), hash: h.Sum64()}, nil
}

// pendingEnd is a range of a file handed to the shipper, up to end.
type pendingEnd struct {
	end  int64
	gen  int
	done bool
}

// tracked is a file being followed.
type tracked struct {
	order    uint64 // opening order
	id       fileID
	path     string // where it is now
	name     string // where it was first found: the "file" property and the key
	f        *os.File
	fp       fingerprint
	readOff  int64           // next byte to read
	buf      []byte          // bytes after the last complete line
	bufOff   int64           // file offset of buf[0] (of the next byte when buf is empty)
	skip     bool            // dropping the rest of a truncated line
	event    event           // the open multiline event
	key      string          // the record key, from name
	props    *protocol.Props // the properties its records share
	dataAt   time.Time       // when it last had new bytes, for IdleTimeout
	scanSize int64           // its size at the last scan
	gen      int             // bumped on truncation: older acks no longer count

	// Guarded by Tailer.ackMu: acks come from the shipper's goroutines.
	acked   int64
	pending []*pendingEnd
	dirty   bool

	gone bool // no longer at a watched path: read to the end, then let go
	seen bool // found by the current scan

	readMirror atomic.Int64 // readOff, for the metrics goroutine
	sizeMirror atomic.Int64 // its size at the last look, for the metrics goroutine
	gauge      string       // name of its bytes-behind gauge
}

// lineKind says how a line reached the batch.
type lineKind int

const (
	lineWhole     lineKind = iota // a line as written
	linePiece                     // a MaxLineBytes piece of a longer line
	lineTruncated                 // the start of a longer line, the rest dropped
)

// lineFunc takes one line: its bytes (valid only during the call), the
// file offset of its first byte, and the offset after it (where reading
// resumes once it is delivered).
type lineFunc func(b []byte, off, end int64, kind lineKind)

// readLines reads one chunk and calls line for each complete line (and
// for pieces of lines longer than max); it returns the bytes read. At the
// end of a file that is gone, an unterminated last line is emitted too.
// A closed (idle) file reads nothing.
func (t *tracked) readLines(scratch []byte, max int, truncate bool, line lineFunc) (int, error) {
	if t.f == nil {
		return 0, nil
	}
	n, err := t.f.ReadAt(scratch, t.readOff)
	if err != nil && err != io.EOF {
		return 0, fmt.Errorf("read %s: %w", t.path, err)
	}
	t.readOff += int64(n)
	t.readMirror.Store(t.readOff)
	data := scratch[:n]
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			t.partial(data, max, truncate, line)
			break
		}
		switch {
		case t.skip: // the rest of a truncated line
			t.bufOff += int64(i) + 1
			t.skip = false
		case len(t.buf) > 0:
			t.buf = append(t.buf, data[:i]...)
			t.complete(t.buf, max, truncate, line)
			t.buf = t.buf[:0]
		default: // the common case: the line is in scratch, no copy
			t.complete(data[:i], max, truncate, line)
		}
		data = data[i+1:]
	}
	if n == 0 && t.gone && len(t.buf) > 0 {
		off := t.bufOff
		t.bufOff += int64(len(t.buf))
		line(t.buf, off, t.bufOff, lineWhole)
		t.buf = t.buf[:0]
	}
	if n == 0 && cap(t.buf) > 64<<10 && len(t.buf) == 0 {
		t.buf = nil // memory of a long line is not kept per file
	}
	return n, nil
}

// complete emits the line l that started at bufOff and ended with '\n'.
func (t *tracked) complete(l []byte, max int, truncate bool, line lineFunc) {
	off := t.bufOff
	t.bufOff += int64(len(l)) + 1
	l = bytes.TrimSuffix(l, []byte{'\r'})
	switch {
	case len(l) <= max:
		line(l, off, t.bufOff, lineWhole)
	case truncate:
		line(l[:max], off, t.bufOff, lineTruncated)
	default:
		for len(l) > max {
			line(l[:max], off, off+int64(max), linePiece)
			l, off = l[max:], off+int64(max)
		}
		line(l, off, t.bufOff, linePiece)
	}
}

// partial keeps data, the start of a line without its end yet; a line
// that outgrows max is emitted (or truncated) in pieces so the buffer
// stays bounded.
func (t *tracked) partial(data []byte, max int, truncate bool, line lineFunc) {
	if t.skip {
		t.bufOff += int64(len(data))
		return
	}
	t.buf = append(t.buf, data...)
	for len(t.buf) >= max {
		off := t.bufOff
		if truncate {
			t.bufOff += int64(len(t.buf))
			line(t.buf[:max], off, t.bufOff, lineTruncated)
			t.buf, t.skip = t.buf[:0], true
			return
		}
		t.bufOff += int64(max)
		line(t.buf[:max], off, t.bufOff, linePiece)
		t.buf = append(t.buf[:0], t.buf[max:]...)
	}
}
