package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/receive"
	"github.com/sluicehq/sluice/agent/source"
)

// Path is where remote write requests are served.
const Path = "/api/v1/write"

// Receiver is the prometheus_remote_write source.
type Receiver struct {
	cfg     Config
	ln      net.Listener
	props   map[string]string
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
		return nil, fmt.Errorf("remotewrite %s: listen: %w", cfg.Name, err)
	}
	props := make(map[string]string, len(cfg.Fields)+2)
	for k, v := range cfg.Fields {
		props[k] = v
	}
	props[source.PropContentType] = source.ContentTypeWriteRequest
	props[source.PropSource] = cfg.Name
	return &Receiver{cfg: cfg, ln: ln, props: props, m: newReceiverMetrics(cfg.Metrics, cfg.Name)}, nil
}

// Addr is the address the receiver listens on.
func (r *Receiver) Addr() net.Addr { return r.ln.Addr() }

// Close releases the listener of a receiver whose Run was not called;
// after Run it does nothing harmful.
func (r *Receiver) Close() error {
	if r.started.Load() {
		return nil
	}
	return r.ln.Close()
}

// Run serves remote write requests into e until ctx ends.
func (r *Receiver) Run(ctx context.Context, e source.Emitter) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("remotewrite: Run called twice")
	}
	r.emitter.Store(&e)
	mux := http.NewServeMux()
	mux.Handle(Path, r)
	err := receive.ServeHTTP(ctx, receive.LimitListener(r.ln, r.cfg.MaxConns), mux)
	if err != nil {
		return fmt.Errorf("remotewrite %s: serve: %w", r.cfg.Name, err)
	}
	return nil
}

// ServeHTTP handles one remote write request.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.m.requests.Inc()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.fail(w, http.StatusMethodNotAllowed, "method", "only POST is accepted")
		return
	}
	if enc := req.Header.Get("Content-Encoding"); !strings.EqualFold(enc, "snappy") {
		r.fail(w, http.StatusUnsupportedMediaType, "encoding", "Content-Encoding must be snappy")
		return
	}
	if msg := checkContentType(req.Header.Get("Content-Type")); msg != "" {
		r.fail(w, http.StatusUnsupportedMediaType, "content_type", msg)
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
	wr, err := DecodeWriteRequest(body, r.cfg.MaxDecodedBytes)
	if errors.Is(err, ErrTooLarge) {
		r.fail(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
		return
	}
	if err != nil {
		r.fail(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	recs, samples, err := splitByTarget(wr, r.cfg.Topic, r.props, time.Now())
	if err != nil {
		r.fail(w, http.StatusInternalServerError, "marshal", err.Error())
		return
	}
	if len(recs) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := r.emitAndWait(req.Context(), recs); err != nil {
		r.fail(w, http.StatusServiceUnavailable, "emit", err.Error())
		return
	}
	r.m.samples.Add(samples)
	r.m.records.Add(len(recs))
	w.WriteHeader(http.StatusNoContent)
}

// emitAndWait emits recs and waits for their ack, bounded by AckTimeout.
func (r *Receiver) emitAndWait(ctx context.Context, recs []source.Record) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.AckTimeout)
	defer cancel()
	// Buffered so a late ack after we gave up does not block the emitter.
	acked := make(chan error, 1)
	e := *r.emitter.Load()
	if err := e.Emit(ctx, recs, func(err error) { acked <- err }); err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	select {
	case err := <-acked:
		if err != nil {
			return fmt.Errorf("ack: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for ack: %w", context.Cause(ctx))
	}
}

// checkContentType accepts remote write 1.0 content types and returns
// why any other is refused. An absent Content-Type is taken as 1.0, as
// older senders omit it.
func checkContentType(ct string) string {
	if ct == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Sprintf("Content-Type %q: %v", ct, err)
	}
	if mt != "application/x-protobuf" {
		return fmt.Sprintf("Content-Type %q: want application/x-protobuf", ct)
	}
	if p, ok := params["proto"]; ok && p != "prometheus.WriteRequest" {
		return fmt.Sprintf("Content-Type %q: only remote write 1.0 (proto=prometheus.WriteRequest) is accepted", ct)
	}
	return ""
}

func (r *Receiver) fail(w http.ResponseWriter, code int, reason, msg string) {
	r.m.rejected(reason).Inc()
	if code >= 500 {
		r.cfg.Logger.Warn("remote write request refused", "source", r.cfg.Name, "status", code, "error", msg)
	}
	http.Error(w, msg, code)
}

type receiverMetrics struct {
	set                               *metrics.Set
	name                              string
	requests, bytes, samples, records *metrics.Counter
}

func newReceiverMetrics(set *metrics.Set, name string) *receiverMetrics {
	c := func(metric string) *metrics.Counter {
		return set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_receiver_%s{source=%q}`, metric, name))
	}
	return &receiverMetrics{
		set: set, name: name,
		requests: c("requests_total"), bytes: c("bytes_total"),
		samples: c("samples_total"), records: c("records_total"),
	}
}

func (m *receiverMetrics) rejected(reason string) *metrics.Counter {
	return m.set.GetOrCreateCounter(fmt.Sprintf(`sluice_agent_receiver_rejected_total{source=%q,reason=%q}`, m.name, reason))
}
