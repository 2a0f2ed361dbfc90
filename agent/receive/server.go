package receive

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxConns is the default bound on concurrent connections.
const DefaultMaxConns = 256

// ShutdownGrace is how long ServeHTTP waits for in-flight requests to
// finish answering after ctx ended; handlers see ctx done and answer at
// once, so this is only a bound.
const ShutdownGrace = 5 * time.Second

// LimitListener returns a listener that holds at most n accepted
// connections open at once: Accept waits for a slot, so excess clients
// queue in the kernel's backlog instead of costing a goroutine each.
func LimitListener(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		n = DefaultMaxConns
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// ServeHTTP serves h on ln until ctx ends, then shuts the server down
// and returns once the serving goroutine and every connection are done.
// Handlers get ctx as their requests' base context, so a handler
// waiting for an ack returns as soon as ctx ends.
func ServeHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// CheckCommon checks and completes what every receiver's Config has: a
// topic (required), a name and a listen address (defaults given), which
// must be host:port. kind prefixes the errors ("syslog: ...").
func CheckCommon(kind, topic string, name, listen *string, defaultName, defaultListen string) error {
	if topic == "" {
		return fmt.Errorf("%s: topic is required", kind)
	}
	if *name == "" {
		*name = defaultName
	}
	if *listen == "" {
		*listen = defaultListen
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return fmt.Errorf("%s: listen %q: %w", kind, *listen, err)
	}
	return nil
}
