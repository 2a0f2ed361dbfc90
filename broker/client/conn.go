package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// conn is one TCP connection to the broker. Requests are multiplexed on
// it: each has an id, a reader goroutine hands every response to the call
// waiting for its id, and writes are serialized. Once broken (a read or
// write error, or Close) it stays broken: every pending call fails with the
// cause and the Client dials a new one for the next request.
type conn struct {
	nc           net.Conn
	maxFrame     int // largest frame this side writes
	writeTimeout time.Duration

	wmu     sync.Mutex
	bw      *bufio.Writer
	hdr     [protocol.FrameHeaderSize]byte
	writers atomic.Int32 // writers holding or waiting for wmu

	mu      sync.Mutex
	pending map[uint64]*call
	err     error // why the connection broke; nil while it works
}

// call is one request waiting for its response. It is pooled: whoever
// removes it from conn.pending delivers exactly one signal on done, and the
// requester recycles it only after taking that signal or after removing
// it itself.
type call struct {
	done chan struct{}
	op   protocol.Op
	body []byte
	err  error
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func getCall(op protocol.Op) *call {
	cl := callPool.Get().(*call)
	cl.op = op
	return cl
}

func putCall(cl *call) {
	cl.body, cl.err = nil, nil
	callPool.Put(cl)
}

// dialConn connects and exchanges Hello. Nothing else is sent before the
// broker answered Hello, as the protocol requires. The returned frame
// reader is positioned after the Hello response.
func dialConn(ctx context.Context, cfg *Config) (*conn, *protocol.FrameReader, protocol.HelloResponse, error) {
	var hr protocol.HelloResponse
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 15 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, nil, hr, fmt.Errorf("%w: dial %s: %w", ErrUnavailable, cfg.Addr, err)
	}
	// Reads and writes below honour ctx by failing on a deadline in the
	// past once it is done.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	fr := protocol.NewFrameReader(bufio.NewReaderSize(nc, 64<<10), cfg.MaxFrame)
	hr, err = hello(nc, fr, cfg)
	if !stop() {
		err = fmt.Errorf("%w: hello to %s: %w", ErrUnavailable, cfg.Addr, context.Cause(ctx))
	}
	if err != nil {
		_ = nc.Close()
		return nil, nil, hr, err
	}
	cn := &conn{
		nc:           nc,
		maxFrame:     cfg.MaxFrame,
		writeTimeout: cfg.RequestTimeout,
		bw:           bufio.NewWriterSize(nc, 64<<10),
		pending:      make(map[uint64]*call),
	}
	if hr.MaxFrame > 0 {
		cn.maxFrame = min(cn.maxFrame, hr.MaxFrame)
	}
	return cn, fr, hr, nil
}

// hello sends Hello on a fresh connection and reads the answer.
func hello(nc net.Conn, fr *protocol.FrameReader, cfg *Config) (protocol.HelloResponse, error) {
	var hr protocol.HelloResponse
	body, err := protocol.MarshalJSON(protocol.Hello{Version: protocol.Version, ClientName: cfg.ClientName,
		ClientID: cfg.ClientID, Credentials: cfg.Credentials})
	if err != nil {
		return hr, fmt.Errorf("encode hello: %w", err)
	}
	if _, err := nc.Write(protocol.AppendFrame(nil, protocol.Header{Op: protocol.OpHello}, body)); err != nil {
		return hr, fmt.Errorf("%w: send hello to %s: %w", ErrUnavailable, cfg.Addr, err)
	}
	h, resp, err := fr.Read()
	if err != nil {
		return hr, fmt.Errorf("%w: read hello response from %s: %w", ErrUnavailable, cfg.Addr, err)
	}
	if h.Op != protocol.OpHello || !h.IsResponse() {
		return hr, fmt.Errorf("hello to %s: the broker answered with %s frame flags %#x", cfg.Addr, h.Op, h.Flags)
	}
	if h.IsError() {
		return hr, fmt.Errorf("hello to %s: %w", cfg.Addr, decodeError(resp))
	}
	if err := protocol.UnmarshalJSON(resp, &hr); err != nil {
		return hr, fmt.Errorf("hello to %s: %w", cfg.Addr, err)
	}
	return hr, nil
}

// decodeError turns an error frame's body into an error.
func decodeError(body []byte) error {
	e := new(protocol.Error)
	if err := e.Decode(body); err != nil {
		return fmt.Errorf("undecodable error response: %w", err)
	}
	return e
}

// readLoop delivers responses until the connection breaks.
func (cn *conn) readLoop(fr *protocol.FrameReader) {
	for {
		h, body, err := fr.Read()
		if err != nil {
			cn.fail(fmt.Errorf("%w: read from %s: %w", ErrUnavailable, cn.nc.RemoteAddr(), err))
			return
		}
		if !h.IsResponse() {
			cn.fail(fmt.Errorf("%w: %s sent a %s request frame, not a response", ErrUnavailable, cn.nc.RemoteAddr(), h.Op))
			return
		}
		cn.mu.Lock()
		cl := cn.pending[h.RequestID]
		delete(cn.pending, h.RequestID)
		cn.mu.Unlock()
		if cl == nil {
			continue // its requester gave up waiting
		}
		switch {
		case h.Op != cl.op:
			cl.err = fmt.Errorf("%s request answered by a %s response", cl.op, h.Op)
		case h.IsError():
			cl.err = decodeError(body)
		default:
			// The frame reader reuses its buffer; the requester owns this copy.
			cl.body = bytes.Clone(body)
		}
		cl.done <- struct{}{}
	}
}

// fail breaks the connection for cause, unless it already is, and fails
// every pending call with it.
func (cn *conn) fail(cause error) {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	cn.err = cause
	pending := cn.pending
	cn.pending = nil
	cn.mu.Unlock()
	_ = cn.nc.Close()
	for _, cl := range pending {
		cl.err = cause
		cl.done <- struct{}{}
	}
}

// broken returns why the connection broke, or nil.
func (cn *conn) broken() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err
}

func (cn *conn) register(id uint64, cl *call) error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		return cn.err
	}
	cn.pending[id] = cl
	return nil
}

// unregister removes a call whose requester gives up, and reports whether
// it was still pending; if not, a signal is (or is about to be) on its
// done channel.
func (cn *conn) unregister(id uint64) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if _, ok := cn.pending[id]; !ok {
		return false
	}
	delete(cn.pending, id)
	return true
}

// write sends one request frame. Concurrent writers coalesce: only the
// last one of a burst flushes, so many small requests share a syscall.
func (cn *conn) write(op protocol.Op, id uint64, body []byte) error {
	cn.writers.Add(1)
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	err := cn.nc.SetWriteDeadline(time.Now().Add(cn.writeTimeout))
	if err == nil {
		binary.LittleEndian.PutUint32(cn.hdr[0:], uint32(12+len(body)))
		cn.hdr[4], cn.hdr[5] = protocol.Version, byte(op)
		binary.LittleEndian.PutUint16(cn.hdr[6:], 0)
		binary.LittleEndian.PutUint64(cn.hdr[8:], id)
		if _, err = cn.bw.Write(cn.hdr[:]); err == nil {
			_, err = cn.bw.Write(body)
		}
	}
	if cn.writers.Add(-1) == 0 && err == nil {
		err = cn.bw.Flush()
	}
	if err != nil {
		err = fmt.Errorf("%w: write to %s: %w", ErrUnavailable, cn.nc.RemoteAddr(), err)
		cn.fail(err)
		return err
	}
	return nil
}

// checkSize refuses a request the broker would refuse for its size.
func (cn *conn) checkSize(op protocol.Op, body []byte) error {
	if n := protocol.FrameHeaderSize + len(body); n > cn.maxFrame {
		return fmt.Errorf("%s request of %d bytes: %w (the limit is %d)", op, n, protocol.ErrFrameTooLarge, cn.maxFrame)
	}
	return nil
}
