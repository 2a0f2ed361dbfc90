package transform

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
)

// Reasons of sluice_collector_processor_dropped_total.
const (
	reasonFiltered         = "filtered"
	reasonSampled          = "sampled"
	reasonThrottled        = "throttled"
	reasonThrottleOverflow = "throttle_overflow"
)

func droppedCounter(set component.Settings, reason string) *metrics.Counter {
	return set.Metrics.GetOrCreateCounter(fmt.Sprintf(
		`sluice_collector_processor_dropped_total{processor="%s",reason="%s"}`, component.Label(set.Name), reason))
}

// errorLogInterval is how often at most a processor logs an expression
// error: the counter has them all, the log shows what they look like.
const errorLogInterval = time.Minute

// exprErrors counts expression run-time errors and logs one now and then.
type exprErrors struct {
	set     component.Settings
	count   *metrics.Counter
	lastLog atomic.Int64 // unix nanoseconds
}

func newExprErrors(set component.Settings) *exprErrors {
	return &exprErrors{set: set, count: set.Metrics.GetOrCreateCounter(fmt.Sprintf(
		`sluice_collector_processor_errors_total{processor="%s"}`, component.Label(set.Name)))}
}

// add counts err, an expression's run-time error; what is the
// expression's config key.
func (x *exprErrors) add(what string, err error) {
	x.count.Inc()
	now := time.Now().UnixNano()
	last := x.lastLog.Load()
	if now-last < int64(errorLogInterval) || !x.lastLog.CompareAndSwap(last, now) {
		return
	}
	x.set.Logger.Warn("expression failed; the event is treated as not matching",
		"processor", x.set.Name, "key", what, "error", err,
		"next_log_in", errorLogInterval.String())
}
