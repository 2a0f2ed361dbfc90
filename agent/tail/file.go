package tail

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sync/atomic"
	"syscall"
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
	order   uint64 // opening order
	id      fileID
	path    string // where it is now
	name    string // where it was first found: the "file" property and the key
	f       *os.File
	fp      fingerprint
	readOff int64  // next byte to read
	buf     []byte // bytes after the last complete line
	bufOff  int64  // file offset of buf[0]
	gen     int    // bumped on truncation: older acks no longer count

	// Guarded by Tailer.ackMu: acks come from the shipper's goroutines.
	acked   int64
	pending []*pendingEnd
	dirty   bool

	gone bool // no longer at a watched path: read to the end, then let go
	seen bool // found by the current scan

	readMirror atomic.Int64 // readOff, for the metrics goroutine
	gauge      string       // name of its bytes-behind gauge
}

// readLines reads one chunk and calls line for each complete line (and
// for pieces of lines longer than max); it returns the bytes read. At the
// end of a file that is gone, an unterminated last line is emitted too.
func (t *tracked) readLines(scratch []byte, max int, line func(b []byte, off int64, split bool)) (int, error) {
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
			t.buf = append(t.buf, data...)
			break
		}
		var l []byte
		if len(t.buf) > 0 {
			t.buf = append(t.buf, data[:i]...)
			l = t.buf
		} else {
			l = data[:i]
		}
		off := t.bufOff
		t.bufOff += int64(len(l)) + 1
		t.emitLine(l, off, max, line)
		t.buf = t.buf[:0]
		data = data[i+1:]
	}
	for len(t.buf) >= max { // a line without end in sight: emit a piece
		line(t.buf[:max], t.bufOff, true)
		t.bufOff += int64(max)
		t.buf = append(t.buf[:0], t.buf[max:]...)
	}
	if n == 0 && t.gone && len(t.buf) > 0 {
		line(t.buf, t.bufOff, false)
		t.bufOff += int64(len(t.buf))
		t.buf = t.buf[:0]
	}
	return n, nil
}

// emitLine trims "\r" and splits a line longer than max.
func (t *tracked) emitLine(l []byte, off int64, max int, line func([]byte, int64, bool)) {
	l = bytes.TrimSuffix(l, []byte{'\r'})
	for len(l) > max {
		line(l[:max], off, true)
		l, off = l[max:], off+int64(max)
	}
	line(l, off, false)
}
