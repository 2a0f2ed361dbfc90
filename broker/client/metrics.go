package client

import (
	"errors"
	"fmt"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/protocol"
)

// clientMetrics are a Client's metrics, registered in Config.Metrics. Every
// counter is created up front (or once per label value) so that counting
// on the hot path is one atomic add.
type clientMetrics struct {
	set        *metrics.Set
	requests   [256]*metrics.Counter // by op
	reconnects *metrics.Counter
	connected  *metrics.Counter

	produceBatches  *metrics.Counter
	produceMessages *metrics.Counter
	produceBytes    *metrics.Counter
	produceRetries  *metrics.Counter
	produceFailed   *metrics.Counter
	ackLatency      *metrics.Histogram
	incompressible  *metrics.Counter

	consumeMessages *metrics.Counter
	consumeBytes    *metrics.Counter
	rebalances      *metrics.Counter
	commits         *metrics.Counter
}

func newClientMetrics(set *metrics.Set) *clientMetrics {
	m := &clientMetrics{
		set:             set,
		reconnects:      set.GetOrCreateCounter(`sluice_client_reconnects_total`),
		connected:       set.GetOrCreateCounter(`sluice_client_connections_total`),
		produceBatches:  set.GetOrCreateCounter(`sluice_client_produce_batches_total`),
		produceMessages: set.GetOrCreateCounter(`sluice_client_produce_messages_total`),
		produceBytes:    set.GetOrCreateCounter(`sluice_client_produce_bytes_total`),
		produceRetries:  set.GetOrCreateCounter(`sluice_client_produce_retries_total`),
		produceFailed:   set.GetOrCreateCounter(`sluice_client_produce_failed_messages_total`),
		ackLatency:      set.GetOrCreateHistogram(`sluice_client_produce_ack_seconds`),
		incompressible:  set.GetOrCreateCounter(`sluice_client_produce_incompressible_batches_total`),
		consumeMessages: set.GetOrCreateCounter(`sluice_client_consume_messages_total`),
		consumeBytes:    set.GetOrCreateCounter(`sluice_client_consume_bytes_total`),
		rebalances:      set.GetOrCreateCounter(`sluice_client_rebalances_total`),
		commits:         set.GetOrCreateCounter(`sluice_client_commits_total`),
	}
	for i := range m.requests {
		if op := protocol.Op(i); op.Known() {
			m.requests[i] = set.GetOrCreateCounter(fmt.Sprintf(`sluice_client_requests_total{op=%q}`, op))
		}
	}
	return m
}

func (m *clientMetrics) request(op protocol.Op) {
	if c := m.requests[op]; c != nil {
		c.Inc()
	}
}

// requestError counts a failed request by the broker's code, or by
// "unavailable" / "request_timeout" for failures on the client's side.
func (m *clientMetrics) requestError(err error) {
	var label string
	switch {
	case protocol.CodeOf(err) != 0:
		label = protocol.CodeOf(err).String()
	case errors.Is(err, ErrUnavailable):
		label = "unavailable"
	case errors.Is(err, ErrRequestTimeout):
		label = "request_timeout"
	default:
		return // the caller's context or a closed client: not the broker's doing
	}
	m.set.GetOrCreateCounter(fmt.Sprintf(`sluice_client_errors_total{code=%q}`, label)).Inc()
}
