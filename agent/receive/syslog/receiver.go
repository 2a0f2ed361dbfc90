package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/receive"
	"github.com/sluicehq/sluice/agent/source"
)

// Receiver is the syslog source.
type Receiver struct {
	cfg     Config
	pc      net.PacketConn // udp
	ln      net.Listener   // tcp
	m       *receiverMetrics
	started atomic.Bool
}

// New validates cfg and binds its listen address.
func New(cfg Config) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Receiver{cfg: cfg, m: newReceiverMetrics(cfg.Metrics, cfg.Name)}
	var err error
	if cfg.Protocol == "udp" {
		r.pc, err = net.ListenPacket("udp", cfg.Listen)
	} else {
		r.ln, err = net.Listen("tcp", cfg.Listen)
	}
	if err != nil {
		return nil, fmt.Errorf("syslog %s: listen: %w", cfg.Name, err)
	}
	return r, nil
}

// Addr is the address the receiver listens on.
func (r *Receiver) Addr() net.Addr {
	if r.pc != nil {
		return r.pc.LocalAddr()
	}
	return r.ln.Addr()
}

// Close releases the socket of a receiver whose Run was not called.
func (r *Receiver) Close() error {
	if r.started.Load() {
		return nil
	}
	if r.pc != nil {
		return r.pc.Close()
	}
	return r.ln.Close()
}

// Run receives messages into e until ctx ends. Syslog has no
// acknowledgement, so batches are emitted without an ack callback;
// back-pressure reaches TCP senders by not reading, and UDP senders
// lose datagrams the kernel buffer cannot hold.
func (r *Receiver) Run(ctx context.Context, e source.Emitter) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("syslog: Run called twice")
	}
	var err error
	if r.pc != nil {
		err = r.runUDP(ctx, e)
	} else {
		err = r.runTCP(ctx, e)
	}
	if err != nil {
		return fmt.Errorf("syslog %s: %w", r.cfg.Name, err)
	}
	return nil
}

func (r *Receiver) runUDP(ctx context.Context, e source.Emitter) error {
	stop := context.AfterFunc(ctx, func() { r.pc.Close() })
	defer func() {
		if stop() {
			r.pc.Close()
		}
	}()
	buf := make([]byte, r.cfg.MaxMessageBytes+1)
	var batch []source.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		recs := batch
		batch = nil
		r.pc.SetReadDeadline(time.Time{})
		return e.Emit(ctx, recs, nil)
	}
	for {
		n, from, err := r.pc.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if err := flush(); err != nil {
				return nil // ctx ended
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("udp read: %w", err)
		}
		r.m.bytes.Add(n)
		if n > r.cfg.MaxMessageBytes {
			r.m.rejected("too_large").Inc()
			continue
		}
		if n == 0 {
			continue
		}
		r.m.messages.Inc()
		batch = append(batch, r.toRecord(buf[:n], from.String(), time.Now()))
		if len(batch) == 1 {
			r.pc.SetReadDeadline(time.Now().Add(r.cfg.FlushInterval))
		}
		if len(batch) >= r.cfg.MaxBatch {
			if err := flush(); err != nil {
				return nil
			}
		}
	}
}

func (r *Receiver) runTCP(ctx context.Context, e source.Emitter) error {
	ln := receive.LimitListener(r.ln, r.cfg.MaxConns)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = make(map[net.Conn]struct{})
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer func() {
		if stop() {
			ln.Close()
		}
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tcp accept: %w", err)
		}
		mu.Lock()
		if ctx.Err() != nil { // the AfterFunc already swept conns
			mu.Unlock()
			c.Close()
			return nil
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			r.serveConn(ctx, c, e)
		})
	}
}

// serveConn reads frames from c and emits them in batches of what has
// already arrived: the batch goes out before any read that would wait,
// so a quiet connection never holds a message back.
func (r *Receiver) serveConn(ctx context.Context, c net.Conn, e source.Emitter) {
	r.m.conns.Inc()
	fr := NewFrameReader(&countingReader{c, r.m.bytes}, r.cfg.MaxMessageBytes)
	remote := c.RemoteAddr().String()
	var batch []source.Record
	for {
		msg, err := fr.Next()
		switch {
		case err == nil:
			r.m.messages.Inc()
			batch = append(batch, r.toRecord(msg, remote, time.Now()))
		case errors.Is(err, ErrFrameTooLarge):
			r.m.rejected("too_large").Inc()
		default:
			if len(batch) > 0 {
				e.Emit(ctx, batch, nil)
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				r.m.rejected("framing").Inc()
				r.cfg.Logger.Debug("syslog connection closed", "source", r.cfg.Name, "remote", remote, "error", err)
			}
			return
		}
		if len(batch) > 0 && (len(batch) >= r.cfg.MaxBatch || !fr.HasFrame()) {
			if e.Emit(ctx, batch, nil) != nil {
				return // ctx ended
			}
			batch = nil
		}
	}
}

type countingReader struct {
	r io.Reader
	n *metrics.Counter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(n)
	return n, err
}

type receiverMetrics struct {
	set                    *metrics.Set
	name                   string
	messages, bytes, conns *metrics.Counter
}

func newReceiverMetrics(set *metrics.Set, name string) *receiverMetrics {
	c := func(metric string) *metrics.Counter {
		return set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_receiver_%s{source=%q}`, metric, name))
	}
	return &receiverMetrics{
		set: set, name: name,
		messages: c("messages_total"), bytes: c("bytes_total"), conns: c("connections_total"),
	}
}

func (m *receiverMetrics) rejected(reason string) *metrics.Counter {
	return m.set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_receiver_rejected_total{source=%q,reason=%q}`, m.name, reason))
}
