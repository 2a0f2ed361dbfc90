package httplog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/receive"
	"github.com/sluicehq/sluice/agent/source"
)

// PropRemoteAddr is the property holding the sender's address.
const PropRemoteAddr = "remote_addr"

// Receiver is the http source.
type Receiver struct {
	cfg     Config
	ln      net.Listener
	emitter atomic.Pointer[source.Emitter]
	m       *receiverMetrics
	started atomic.Bool
}

// New validates cfg and binds its listen address.
func New(cfg Config) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("httplog %s: listen: %w", cfg.Name, err)
	}
	return &Receiver{cfg: cfg, ln: ln, m: newReceiverMetrics(cfg.Metrics, cfg.Name)}, nil
}

// Addr is the address the receiver listens on.
func (r *Receiver) Addr() net.Addr { return r.ln.Addr() }

// Close releases the listener of a receiver whose Run was not called.
func (r *Receiver) Close() error {
	if r.started.Load() {
		return nil
	}
	return r.ln.Close()
}

// Run serves POSTed events into e until ctx ends.
func (r *Receiver) Run(ctx context.Context, e source.Emitter) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("httplog: Run called twice")
	}
	r.emitter.Store(&e)
	if err := receive.ServeHTTP(ctx, receive.LimitListener(r.ln, r.cfg.MaxConns), r); err != nil {
		return fmt.Errorf("httplog %s: serve: %w", r.cfg.Name, err)
	}
	return nil
}

// ServeHTTP handles one POST of events.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.m.requests.Inc()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.fail(w, http.StatusMethodNotAllowed, "method", "only POST is accepted")
		return
	}
	if enc := req.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		r.fail(w, http.StatusUnsupportedMediaType, "encoding", "Content-Encoding "+strconv.Quote(enc)+" is not accepted")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			r.fail(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
			return
		}
		r.fail(w, http.StatusBadRequest, "read", err.Error())
		return
	}
	r.m.bytes.Add(len(body))
	isJSON, ok := jsonBody(req.Header.Get("Content-Type"), body)
	if !ok {
		r.fail(w, http.StatusUnsupportedMediaType, "content_type",
			"Content-Type must be application/x-ndjson, application/json or text/plain")
		return
	}
	events, err := SplitEvents(body, isJSON)
	if err != nil {
		r.fail(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	if err := r.emitAll(req.Context(), events, req.RemoteAddr); err != nil {
		r.fail(w, http.StatusServiceUnavailable, "emit", err.Error())
		return
	}
	r.m.events.Add(len(events))
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"accepted\":%d}\n", len(events))
}

// jsonBody tells from the content type, or the first byte when there is
// none, whether body is JSON; ok is false for an unsupported type.
func jsonBody(ct string, body []byte) (isJSON, ok bool) {
	if ct == "" {
		for _, c := range body {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			case '{', '[':
				return true, true
			default:
				return false, true
			}
		}
		return false, true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, false
	}
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/json":
		return true, true
	case "text/plain":
		return false, true
	}
	return false, false
}

// emitAll emits events in batches of MaxBatch and waits for every ack,
// all within AckTimeout.
func (r *Receiver) emitAll(ctx context.Context, events [][]byte, remote string) error {
	if len(events) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.AckTimeout)
	defer cancel()
	key, _, err := net.SplitHostPort(remote)
	if err != nil {
		key = remote
	}
	now := time.Now()
	nBatches := (len(events) + r.cfg.MaxBatch - 1) / r.cfg.MaxBatch
	// Buffered so acks arriving after we gave up never block the emitter.
	acked := make(chan error, nBatches)
	e := *r.emitter.Load()
	for i := 0; i < len(events); i += r.cfg.MaxBatch {
		chunk := events[i:min(i+r.cfg.MaxBatch, len(events))]
		recs := make([]source.Record, len(chunk))
		for j, ev := range chunk {
			recs[j] = source.Record{Topic: r.cfg.Topic, Key: key, Body: ev, Properties: r.props(remote), Time: now}
		}
		if err := e.Emit(ctx, recs, func(err error) { acked <- err }); err != nil {
			return fmt.Errorf("emit: %w", err)
		}
	}
	for range nBatches {
		select {
		case err := <-acked:
			if err != nil {
				return fmt.Errorf("ack: %w", err)
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for ack: %w", context.Cause(ctx))
		}
	}
	return nil
}

func (r *Receiver) props(remote string) map[string]string {
	p := make(map[string]string, len(r.cfg.Fields)+3)
	for k, v := range r.cfg.Fields {
		p[k] = v
	}
	p[source.PropSource] = r.cfg.Name
	p[source.PropHost] = r.cfg.Host
	p[PropRemoteAddr] = remote
	return p
}

func (r *Receiver) fail(w http.ResponseWriter, code int, reason, msg string) {
	r.m.rejected(reason).Inc()
	if code >= 500 {
		r.cfg.Logger.Warn("http log request refused", "source", r.cfg.Name, "status", code, "error", msg)
	}
	http.Error(w, msg, code)
}

type receiverMetrics struct {
	set                     *metrics.Set
	name                    string
	requests, bytes, events *metrics.Counter
}

func newReceiverMetrics(set *metrics.Set, name string) *receiverMetrics {
	c := func(metric string) *metrics.Counter {
		return set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_receiver_%s{source=%q}`, metric, name))
	}
	return &receiverMetrics{
		set: set, name: name,
		requests: c("requests_total"), bytes: c("bytes_total"), events: c("messages_total"),
	}
}

func (m *receiverMetrics) rejected(reason string) *metrics.Counter {
	return m.set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_receiver_rejected_total{source=%q,reason=%q}`, m.name, reason))
}
