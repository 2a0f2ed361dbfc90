package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/broker/groups"
	"github.com/sluicehq/sluice/broker/store"
)

// Server states, in the order a server goes through them.
const (
	stateStarting int32 = iota
	stateServing
	stateShuttingDown
	stateClosed
)

// Server is a running broker: it owns the store, the group coordinator, the
// topic table, the listeners and every connection goroutine.
type Server struct {
	cfg Config
	lg  *slog.Logger
	m   *serverMetrics

	store  *store.Store
	groups *groups.Coordinator
	topics *topicTable
	dedup  *dedupTable
	notify *notifier
	sem    *byteSemaphore

	state atomic.Int32

	ln       net.Listener
	httpLn   net.Listener
	httpSrv  *http.Server
	httpDone chan struct{} // closed when the HTTP server's goroutine ends

	// quit is closed when shutdown starts: readers stop, long polls answer.
	quit chan struct{}
	// hardCtx is cancelled when shutdown gives up waiting: waits for
	// fsyncs and group-state writes end.
	hardCtx    context.Context
	hardCancel context.CancelFunc

	mu       sync.Mutex // guards conns and stopping
	conns    map[*conn]struct{}
	stopping bool

	acceptDone chan struct{}
	connWG     sync.WaitGroup

	shutdownOnce sync.Once
	shutdownDone chan struct{}
	forcedErr    error // set when shutdown had to close busy connections
	closeErr     error // from closing the coordinator and the store
}

// Start opens the store, the topic table and the group coordinator under
// cfg.DataDir, binds both listeners and serves in goroutines the Server
// owns until Shutdown. /healthz answers as soon as HTTP is bound, before
// recovery of the store ends; /readyz says 200 only once the broker serves.
func Start(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:          cfg,
		lg:           cfg.Logger.With("component", "broker"),
		conns:        map[*conn]struct{}{},
		quit:         make(chan struct{}),
		acceptDone:   make(chan struct{}),
		shutdownDone: make(chan struct{}),
		notify:       newNotifier(),
		sem:          newByteSemaphore(cfg.MaxInflightBytes),
	}
	s.hardCtx, s.hardCancel = context.WithCancel(context.Background())
	s.m = newServerMetrics(s, cfg.Metrics)
	s.dedup = newDedupTable()
	if err := s.listen(); err != nil {
		s.hardCancel()
		s.m.unregister()
		return nil, err
	}
	if err := s.open(); err != nil {
		s.abortStart()
		return nil, err
	}
	go s.acceptLoop()
	s.state.Store(stateServing)
	return s, nil
}

// listen binds the protocol listener and starts HTTP, so that a port in
// use fails at once and health checks answer during recovery.
func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	if s.cfg.HTTPListen == "off" {
		return nil
	}
	hln, err := net.Listen("tcp", s.cfg.HTTPListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen for HTTP on %s: %w", s.cfg.HTTPListen, err)
	}
	s.httpLn = hln
	s.httpSrv = &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.lg.Handler(), slog.LevelWarn)}
	s.httpDone = make(chan struct{})
	go func() {
		defer close(s.httpDone)
		if err := s.httpSrv.Serve(hln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.lg.Error("HTTP server stopped", "addr", hln.Addr().String(), "err", err)
		}
	}()
	return nil
}

// open opens the store, adopts topics, rebuilds the idempotency table and
// opens the group coordinator.
func (s *Server) open() error {
	st, err := store.Open(store.Config{
		Dir: filepath.Join(s.cfg.DataDir, "store"), FS: s.cfg.fs, Flush: s.cfg.Flush, SegmentSize: s.cfg.segmentSize,
		FlushInterval: s.cfg.FlushInterval, MaxAge: s.cfg.MaxAge, MaxSize: s.cfg.MaxSize,
		DiskFullRatio: s.cfg.DiskFullRatio, Logger: s.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	s.store = st
	s.topics, err = openTopics(s.cfg.fs, filepath.Join(s.cfg.DataDir, "topics.json"))
	if err != nil {
		return err
	}
	if err := s.adoptTopics(); err != nil {
		return err
	}
	if err := s.dedup.rebuild(st, s.lg); err != nil {
		return err
	}
	g, err := groups.Open(groups.Config{
		Dir: filepath.Join(s.cfg.DataDir, "groups"), Queues: queuesAdapter{s},
		SessionTimeout: s.cfg.SessionTimeout, Logger: s.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("open consumer groups: %w", err)
	}
	s.groups = g
	return nil
}

// abortStart undoes a Start that failed after listening.
func (s *Server) abortStart() {
	s.state.Store(stateClosed)
	close(s.quit)
	s.ln.Close()
	close(s.acceptDone)
	if s.httpSrv != nil {
		s.httpSrv.Close()
		<-s.httpDone
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.lg.Error("close store after failed start", "err", err)
		}
	}
	s.hardCancel()
	s.m.unregister()
}

// Addr returns the protocol address actually bound.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// HTTPAddr returns the HTTP address actually bound, or "" when HTTP is off.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// acceptLoop accepts connections until the listener closes.
func (s *Server) acceptLoop() {
	defer close(s.acceptDone)
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little, as
			// net/http does, instead of spinning.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.lg.Warn("accept", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.quit:
				return
			}
			continue
		}
		delay = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops the server gracefully: it stops accepting, stops reading
// new requests, lets the requests in flight finish (long polls answer at
// once, empty), writes their responses, closes the connections, then
// closes the group coordinator and the store. If ctx ends first (or after
// ShutdownTimeout when ctx has no deadline), the connections are closed
// and waits for fsyncs abandoned; the store is still closed cleanly and
// Shutdown reports that it had to force. Later calls wait for the first
// one and return its result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
			defer cancel()
		}
		s.shutdown(ctx)
		close(s.shutdownDone)
	})
	select {
	case <-s.shutdownDone: // the first caller gets here at once
		return errors.Join(s.forcedErr, s.closeErr)
	default:
	}
	select {
	case <-s.shutdownDone:
		return errors.Join(s.forcedErr, s.closeErr)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the server at once: requests in flight are abandoned,
// connections closed, and the store closed cleanly. It reports only
// errors of closing the coordinator and the store.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Shutdown(ctx)
	<-s.shutdownDone
	return s.closeErr
}

func (s *Server) shutdown(ctx context.Context) {
	s.state.Store(stateShuttingDown)
	s.mu.Lock()
	s.stopping = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	close(s.quit)
	s.ln.Close()
	<-s.acceptDone
	for _, c := range conns {
		c.stopReading()
	}
	drained := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
		s.forceClose(ctx, drained)
	}
	if s.httpSrv != nil {
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			s.httpSrv.Close()
		}
		<-s.httpDone
	}
	var errs []error
	if err := s.groups.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close consumer groups: %w", err))
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	s.closeErr = errors.Join(errs...)
	s.hardCancel()
	s.state.Store(stateClosed)
	s.m.unregister()
}

// forceClose closes the connections still busy when shutdown's time is up
// and abandons waits for fsyncs, then waits for the handlers to return.
func (s *Server) forceClose(ctx context.Context, drained <-chan struct{}) {
	select {
	case <-drained:
		return // both were ready
	default:
	}
	s.hardCancel()
	s.mu.Lock()
	n := len(s.conns)
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	if s.cfg.forceCloseHook != nil {
		s.cfg.forceCloseHook()
	}
	<-drained
	s.forcedErr = fmt.Errorf("shutdown: closed %d connections with requests in flight: %w", n, ctx.Err())
}
