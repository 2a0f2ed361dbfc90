package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/protocol"
)

// Client is a connection to one broker, shared by the admin calls, the
// producers and the consumers made from it. It is safe for concurrent use.
type Client struct {
	cfg Config
	lg  *slog.Logger
	m   *clientMetrics
	bo  backoff

	nextID atomic.Uint64
	// autoCreate is the broker's auto_create_topics, from the last Hello.
	autoCreate atomic.Bool

	mu        sync.Mutex
	conn      *conn
	dialing   chan struct{} // closed when the dial in progress ends
	dialFails int           // consecutive failed dials
	nextDial  time.Time     // no dial before this, after failures
	connected bool          // a connection was made once: later ones are reconnects
	closed    bool
	children  map[closer]struct{} // producers and consumers to close with the client
	wg        sync.WaitGroup      // reader goroutines
}

// closer is a producer or consumer that the Client closes with itself.
type closer interface{ Close() error }

// New returns a client for the broker at cfg.Addr. It does not connect:
// the first request does, and a broken connection is replaced on the next
// request, with back-off between failed dials.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	cfg = cfg.withDefaults()
	return &Client{
		cfg:      cfg,
		lg:       cfg.Logger.With("broker", cfg.Addr),
		m:        newClientMetrics(cfg.Metrics),
		bo:       backoff{min: cfg.MinBackoff, max: cfg.MaxBackoff},
		children: make(map[closer]struct{}),
	}, nil
}

// Metrics returns the set holding the client's metrics.
func (c *Client) Metrics() *metrics.Set { return c.cfg.Metrics }

// Addr returns the broker address.
func (c *Client) Addr() string { return c.cfg.Addr }

// Close closes the producers and consumers made from c that are still
// open (without flushing: their unacknowledged messages fail with
// ErrClosed), fails the requests in flight with ErrClosed, and waits for
// every goroutine of the client. Close a Producer first to flush it.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.conn
	c.conn = nil
	children := make([]closer, 0, len(c.children))
	for ch := range c.children {
		children = append(children, ch)
	}
	c.mu.Unlock()
	if cn != nil {
		cn.fail(ErrClosed)
	}
	var errs []error
	for _, ch := range children {
		errs = append(errs, ch.Close())
	}
	c.wg.Wait()
	return errors.Join(errs...)
}

// adopt registers a producer or consumer to be closed with the client.
func (c *Client) adopt(ch closer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.children[ch] = struct{}{}
	return nil
}

func (c *Client) disown(ch closer) {
	c.mu.Lock()
	delete(c.children, ch)
	c.mu.Unlock()
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// errTimeoutCause marks a request context that hit the request timeout,
// as opposed to the caller's context.
var errTimeoutCause = errors.New("request timeout")

// request sends one request and returns the body of its response, which
// the caller owns. extra lengthens the request timeout (a long poll's
// wait). A broker error comes back as *protocol.Error.
func (c *Client) request(ctx context.Context, op protocol.Op, body []byte, extra time.Duration) ([]byte, error) {
	c.m.request(op)
	resp, err := c.roundTrip(ctx, op, body, extra)
	if err != nil {
		c.m.requestError(err)
	}
	return resp, err
}

func (c *Client) roundTrip(ctx context.Context, op protocol.Op, body []byte, extra time.Duration) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := c.cfg.RequestTimeout + extra
	rctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeoutCause)
	defer cancel()
	cn, err := c.getConn(rctx)
	if err != nil {
		return nil, c.doneErr(ctx, rctx, op, timeout, err)
	}
	if err := cn.checkSize(op, body); err != nil {
		return nil, err
	}
	cl := getCall(op)
	id := c.nextID.Add(1)
	if err := cn.register(id, cl); err != nil {
		putCall(cl)
		return nil, err
	}
	if err := cn.write(op, id, body); err != nil && cn.unregister(id) {
		putCall(cl)
		return nil, err
	}
	select {
	case <-cl.done:
	case <-rctx.Done():
		if cn.unregister(id) {
			putCall(cl)
			return nil, c.doneErr(ctx, rctx, op, timeout, rctx.Err())
		}
		<-cl.done // the response or the connection's failure won the race
	}
	resp, err := cl.body, cl.err
	putCall(cl)
	return resp, err
}

// doneErr says why a request stopped: the caller's context, the request
// timeout, or err.
func (c *Client) doneErr(ctx, rctx context.Context, op protocol.Op, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rctx.Err() != nil && context.Cause(rctx) == errTimeoutCause {
		return fmt.Errorf("%s: %w: no response within %v", op, ErrRequestTimeout, timeout)
	}
	return err
}

// getConn returns the working connection, dialing one if there is none.
// One dial runs at a time; requests that arrive meanwhile wait for it.
// After failed dials the next one waits out a back-off, so a broker that is
// down is not hammered by every request.
func (c *Client) getConn(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	for {
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if c.conn != nil && c.conn.broken() == nil {
			cn := c.conn
			c.mu.Unlock()
			return cn, nil
		}
		if c.dialing == nil {
			break
		}
		ch := c.dialing
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		c.mu.Lock()
	}
	ch := make(chan struct{})
	c.dialing = ch
	wait := time.Until(c.nextDial)
	c.mu.Unlock()

	cn, fr, err := c.dial(ctx, wait)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.dialing = nil
	close(ch)
	if err != nil {
		if ctx.Err() == nil {
			c.dialFails++
			c.nextDial = time.Now().Add(c.bo.delay(c.dialFails - 1))
		}
		return nil, err
	}
	if c.closed {
		cn.fail(ErrClosed)
		return nil, ErrClosed
	}
	c.dialFails = 0
	if c.connected {
		c.m.reconnects.Inc()
		c.lg.Info("reconnected to the broker")
	}
	c.connected = true
	c.m.connected.Inc()
	c.conn = cn
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		cn.readLoop(fr)
		if err := cn.broken(); !errors.Is(err, ErrClosed) {
			c.lg.Warn("connection to the broker lost", "err", err)
		}
	}()
	return cn, nil
}

// dial waits out the back-off, then connects.
func (c *Client) dial(ctx context.Context, wait time.Duration) (*conn, *protocol.FrameReader, error) {
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	cn, fr, hr, err := dialConn(ctx, &c.cfg)
	if err == nil {
		c.autoCreate.Store(hr.AutoCreateTopics)
	}
	return cn, fr, err
}

// control sends a JSON control request and decodes the JSON response into
// resp (unless resp is nil).
func (c *Client) control(ctx context.Context, op protocol.Op, req, resp any) error {
	body, err := protocol.MarshalJSON(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", op, err)
	}
	out, err := c.request(ctx, op, body, 0)
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	if err := protocol.UnmarshalJSON(out, resp); err != nil {
		return fmt.Errorf("%s response: %w", op, err)
	}
	return nil
}
