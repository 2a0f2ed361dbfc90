package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

const (
	// maxInflightPerConn bounds the requests being handled for one
	// connection; its reader pauses when they are all busy.
	maxInflightPerConn = 256
	// writeTimeout drops a client that stopped reading its responses.
	writeTimeout = 30 * time.Second
	// bodyStep is how a request body grows as it arrives: a size in a
	// frame header is a claim, not data.
	bodyStep = 1 << 20
	// lingerTime and lingerBytes bound the input discarded after a
	// protocol error, before the connection closes.
	lingerTime  = time.Second
	lingerBytes = 4 << 20
)

// conn is one client connection: a reader goroutine that decodes frames
// and starts a handler goroutine per request, and a writer shared by the
// handlers.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string
	// ctx ends when the connection stops reading, so long polls of a
	// client that went away end too.
	ctx    context.Context
	cancel context.CancelFunc

	slots    chan struct{} // one per request being handled
	handlers sync.WaitGroup

	queued atomic.Int32 // responses waiting for the write lock
	wmu    sync.Mutex
	bw     *bufio.Writer
	werr   error
	whdr   [protocol.FrameHeaderSize]byte
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, remote: nc.RemoteAddr().String(),
		slots: make(chan struct{}, maxInflightPerConn), bw: bufio.NewWriterSize(nc, 32<<10)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// serve runs the connection until the client leaves, breaks the protocol
// or the server shuts down, then waits for its handlers and closes.
func (c *conn) serve() {
	defer c.s.connWG.Done()
	c.s.m.connections.Add(1)
	defer c.s.m.connections.Add(-1)
	err := c.readLoop()
	violation := err != nil && !isDisconnect(err)
	if violation {
		c.s.lg.Info("closing connection", "remote", c.remote, "err", err)
	}
	c.cancel()
	c.handlers.Wait()
	c.wmu.Lock()
	if c.werr == nil {
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		c.bw.Flush()
	}
	c.wmu.Unlock()
	if violation {
		c.linger()
	}
	c.nc.Close()
	c.s.removeConn(c)
}

// linger closes our side for writing and discards what the client still
// sends for a moment: closing a socket with unread input makes the kernel
// reset it, and the client could lose the error frame just written.
func (c *conn) linger() {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(c.nc, lingerBytes))
}

// stopReading makes the reader stop at once, between frames or not; the
// requests already read are still answered.
func (c *conn) stopReading() { c.nc.SetReadDeadline(time.Now()) }

func isDisconnect(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, errStopped)
}

var errStopped = errors.New("server is shutting down")

// readLoop reads requests until an error; the error says why it stopped.
func (c *conn) readLoop() error {
	s := c.s
	br := bufio.NewReaderSize(c.nc, 32<<10)
	var hdr [protocol.FrameHeaderSize]byte
	hello := false
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		start := time.Now()
		h, n, err := protocol.ParseFrameHeader(hdr[:], s.cfg.MaxFrame)
		if err != nil {
			code := protocol.CodeBadRequest
			if errors.Is(err, protocol.ErrFrameTooLarge) {
				code = protocol.CodeFrameTooLarge
			}
			c.sendError(rawHeader(hdr[:]), protocol.Errorf(code, "%v; closing the connection", err))
			return err
		}
		if h.IsResponse() {
			c.sendError(h, protocol.Errorf(protocol.CodeBadRequest, "a client sent a response frame; closing the connection"))
			return fmt.Errorf("client sent a response frame (%s)", h.Op)
		}
		// Take room before reading the body, so that memory is bounded by
		// what handlers have not finished yet.
		weight := s.sem.weight(n)
		if !s.sem.acquire(weight, s.quit) {
			return errStopped
		}
		select {
		case c.slots <- struct{}{}:
		case <-s.quit:
			s.sem.release(weight)
			return errStopped
		}
		done := func() { <-c.slots; s.sem.release(weight) }
		body, err := readBody(br, n)
		if err != nil {
			done()
			return fmt.Errorf("read %d byte body of %s frame: %w", n, h.Op, err)
		}
		if !hello {
			err := c.hello(h, body, start)
			done()
			if err != nil {
				return err
			}
			hello = true
			continue
		}
		fn, err := s.decode(h.Op, body)
		if err != nil {
			done()
			var pe *protocol.Error
			if errors.As(err, &pe) && pe.Code == protocol.CodeUnsupported {
				c.sendError(h, pe)
				continue
			}
			c.sendError(h, protocol.Errorf(protocol.CodeBadRequest, "%s: %v; closing the connection", h.Op, err))
			return err
		}
		c.handlers.Add(1)
		go c.handle(h, fn, done, start)
	}
}

// rawHeader recovers what it can of a header that did not parse, so that
// the error frame carries the request id when there was one.
func rawHeader(b []byte) protocol.Header {
	return protocol.Header{Op: protocol.Op(b[5]), RequestID: binary.LittleEndian.Uint64(b[8:])}
}

// readBody reads an n byte body into a new buffer that grows with what
// arrives; the handler owns it.
func readBody(r io.Reader, n int) ([]byte, error) {
	if n <= bodyStep {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	var buf []byte
	for len(buf) < n {
		step := min(n-len(buf), max(len(buf), bodyStep))
		buf = slices.Grow(buf, step)
		if _, err := io.ReadFull(r, buf[len(buf):len(buf)+step]); err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+step]
	}
	return buf, nil
}

// hello answers the first request, which must be Hello.
func (c *conn) hello(h protocol.Header, body []byte, start time.Time) error {
	if h.Op != protocol.OpHello {
		c.sendError(h, protocol.Errorf(protocol.CodeNoHello, "the first request must be hello, got %s; closing the connection", h.Op))
		return fmt.Errorf("first request is %s, not hello", h.Op)
	}
	var req protocol.Hello
	if err := protocol.UnmarshalJSON(body, &req); err != nil {
		c.sendError(h, protocol.Errorf(protocol.CodeBadRequest, "hello: %v; closing the connection", err))
		return err
	}
	if req.Version != protocol.Version {
		c.sendError(h, protocol.Errorf(protocol.CodeUnsupported,
			"protocol version %d is not supported, this broker speaks %d", req.Version, protocol.Version))
		return fmt.Errorf("client %q speaks protocol version %d", req.ClientName, req.Version)
	}
	resp, err := protocol.MarshalJSON(protocol.HelloResponse{
		Version: protocol.Version, BrokerID: c.s.cfg.BrokerID, MaxFrame: c.s.cfg.MaxFrame,
		AutoCreateTopics: c.s.cfg.AutoCreateTopics})
	if err != nil {
		return err
	}
	c.s.m.observe(h.Op, start) // before the response: a client that has it sees it counted
	c.send(h, 0, resp, nil)
	return nil
}

// handle runs one request and writes its response.
func (c *conn) handle(h protocol.Header, fn handlerFunc, done func(), start time.Time) {
	defer c.handlers.Done()
	r := fn(c)
	done()
	// Counted before the response goes out, so that a client holding its
	// response finds the request in /metrics.
	c.s.m.observe(h.Op, start)
	if r.err != nil {
		c.sendError(h, c.s.toProtocolError(r.err))
	} else {
		c.send(h, 0, r.body, r.tail)
	}
	if r.release != nil {
		r.release()
	}
}

// reply is what a handler answers: body followed by tail (fetched records
// written straight from the store's read buffer), or err.
type reply struct {
	body, tail []byte
	err        error
	// release runs once the response is written: buffers go back to
	// their pool.
	release func()
}

// handlerFunc runs a decoded request.
type handlerFunc func(c *conn) reply

// sendError writes an error response.
func (c *conn) sendError(h protocol.Header, e *protocol.Error) {
	c.s.m.errorCode(e.Code).Inc()
	c.send(h, protocol.FlagError, e.Append(nil), nil)
}

// send writes one response frame. Responses are flushed when no other
// response is waiting for the lock, so that a burst of them shares writes.
func (c *conn) send(h protocol.Header, flags uint16, body, tail []byte) {
	c.queued.Add(1)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	last := c.queued.Add(-1) == 0
	if c.werr != nil {
		return
	}
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	b := binary.LittleEndian.AppendUint32(c.whdr[:0], uint32(12+len(body)+len(tail)))
	b = append(b, protocol.Version, byte(h.Op))
	b = binary.LittleEndian.AppendUint16(b, flags|protocol.FlagResponse)
	b = binary.LittleEndian.AppendUint64(b, h.RequestID)
	_, err := c.bw.Write(b)
	if err == nil {
		_, err = c.bw.Write(body)
	}
	if err == nil {
		_, err = c.bw.Write(tail)
	}
	if err == nil && last {
		err = c.bw.Flush()
	}
	if err != nil {
		// The client is gone or stuck: stop reading from it too.
		c.werr = err
		c.nc.Close()
	}
}
