package server

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/protocol"
)

// serverMetrics are the server's own metrics; per-op and per-code series
// are made once at start so that the request path formats no names.
type serverMetrics struct {
	set   *metrics.Set
	names []string

	connections atomic.Int64
	longPolls   *metrics.Gauge

	requests  [256]*metrics.Counter
	durations [256]*metrics.Histogram
	errors    map[protocol.Code]*metrics.Counter
	otherErr  *metrics.Counter

	produceBatches, produceMessages, produceBytes, produceDuplicates *metrics.Counter
	fetchRequests, fetchBatches, fetchMessages, fetchBytes           *metrics.Counter
}

func newServerMetrics(s *Server, set *metrics.Set) *serverMetrics {
	m := &serverMetrics{set: set, errors: map[protocol.Code]*metrics.Counter{}}
	counter := func(name string) *metrics.Counter {
		m.names = append(m.names, name)
		return set.NewCounter(name)
	}
	gauge := func(name string, f func() float64) *metrics.Gauge {
		m.names = append(m.names, name)
		return set.NewGauge(name, f)
	}
	for op := range 256 {
		o := protocol.Op(op)
		if !o.Known() {
			continue
		}
		m.requests[op] = counter(fmt.Sprintf(`sluice_broker_requests_total{op=%q}`, o))
		name := fmt.Sprintf(`sluice_broker_request_duration_seconds{op=%q}`, o)
		m.names = append(m.names, name)
		m.durations[op] = set.NewHistogram(name)
	}
	for c := range 256 {
		code := protocol.Code(c)
		if !strings.HasPrefix(code.String(), "code(") {
			m.errors[code] = counter(fmt.Sprintf(`sluice_broker_errors_total{code=%q}`, code))
		}
	}
	m.otherErr = counter(`sluice_broker_errors_total{code="other"}`)
	m.produceBatches = counter("sluice_broker_produce_batches_total")
	m.produceMessages = counter("sluice_broker_produce_messages_total")
	m.produceBytes = counter("sluice_broker_produce_bytes_total")
	m.produceDuplicates = counter("sluice_broker_produce_duplicates_total")
	m.fetchRequests = counter("sluice_broker_fetch_responses_total")
	m.fetchBatches = counter("sluice_broker_fetch_batches_total")
	m.fetchMessages = counter("sluice_broker_fetch_messages_total")
	m.fetchBytes = counter("sluice_broker_fetch_bytes_total")
	gauge("sluice_broker_connections", func() float64 { return float64(m.connections.Load()) })
	m.longPolls = gauge("sluice_broker_long_polls", nil)
	gauge("sluice_broker_inflight_bytes", func() float64 { return float64(s.sem.used()) })
	gauge("sluice_broker_topics", func() float64 {
		if st := s.state.Load(); st != stateServing && st != stateShuttingDown {
			return 0 // s.topics may not be set up
		}
		s.topics.mu.RLock()
		defer s.topics.mu.RUnlock()
		return float64(len(s.topics.topics))
	})
	return m
}

// observe counts a request and its duration from frame read to response.
func (m *serverMetrics) observe(op protocol.Op, start time.Time) {
	if c := m.requests[op]; c != nil {
		c.Inc()
		m.durations[op].UpdateDuration(start)
	}
}

// errorCode returns the error counter of code.
func (m *serverMetrics) errorCode(code protocol.Code) *metrics.Counter {
	if c := m.errors[code]; c != nil {
		return c
	}
	return m.otherErr
}

// unregister removes the server's metrics from its set, so that a set may
// serve the next server started with it.
func (m *serverMetrics) unregister() {
	for _, n := range m.names {
		m.set.UnregisterMetric(n)
	}
}
