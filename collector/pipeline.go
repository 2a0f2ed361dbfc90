package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// commitTimeout bounds a commit, also one made while stopping.
const commitTimeout = 10 * time.Second

// stage is one processor of a pipeline with its counters.
type stage struct {
	proc    component.Processor
	in, out *metrics.Counter
}

// pipeline reads one input, processes and delivers batch after batch.
type pipeline struct {
	name   string
	in     input
	stages []stage
	to     []string
	sinks  map[string]*sinkRunner // every sink this pipeline can reach
	dlq    dlqSender
	lg     *slog.Logger

	eventsIn     *metrics.Counter
	eventsOut    *metrics.Counter
	decodeErrors *metrics.Counter
	commitErrors *metrics.Counter
	batches      *metrics.Counter
	lagSeconds   *metrics.Gauge
	delay        *metrics.Histogram

	lastStoredMu sync.Mutex
	lastStored   time.Time // stored_at of the newest message committed

	// free is the memory of delivered batches, for the next ones; only
	// run's goroutine (or handle's caller) uses it.
	free []*batchMem
}

func newPipelineMetrics(p *pipeline, set *metrics.Set) {
	l := fmt.Sprintf(`pipeline=%q`, p.name)
	p.eventsIn = set.GetOrCreateCounter(`sluice_collector_events_in_total{` + l + `}`)
	p.eventsOut = set.GetOrCreateCounter(`sluice_collector_events_out_total{` + l + `}`)
	p.decodeErrors = set.GetOrCreateCounter(`sluice_collector_decode_errors_total{` + l + `}`)
	p.commitErrors = set.GetOrCreateCounter(`sluice_collector_commit_errors_total{` + l + `}`)
	p.batches = set.GetOrCreateCounter(`sluice_collector_batches_total{` + l + `}`)
	p.delay = set.GetOrCreateHistogram(`sluice_collector_event_delay_seconds{` + l + `}`)
	// Commit lag: how far behind now the newest committed message was
	// stored. It grows while a sink is down and the backlog waits.
	p.lagSeconds = set.GetOrCreateGauge(`sluice_collector_commit_lag_seconds{`+l+`}`, func() float64 {
		p.lastStoredMu.Lock()
		defer p.lastStoredMu.Unlock()
		if p.lastStored.IsZero() {
			return 0
		}
		return time.Since(p.lastStored).Seconds()
	})
}

// run handles batches until pollCtx ends. A batch in hand when it ends is
// finished (delivered and committed) unless workCtx ends too; then it is
// left uncommitted, for the group to hand again.
//
// With an input whose batches overlap, batch N+1 is decoded and processed
// while the sinks write batch N; deliveries stay one at a time and in
// order, and each batch is committed once its delivery is done.
func (p *pipeline) run(pollCtx, workCtx context.Context) error {
	var inFlight *delivery // the batch the sinks are writing, if any
	defer func() {
		if inFlight != nil {
			p.finish(workCtx, inFlight)
		}
	}()
	for attempt := 0; ; {
		msgs, tok, err := p.in.Poll(pollCtx)
		switch {
		case pollCtx.Err() != nil || errors.Is(err, client.ErrClosed):
			return nil
		case err != nil:
			// The consumer retries the broker itself; what reaches here
			// is worth a log line and a pause, not the pipeline's end.
			p.lg.Error("poll", "pipeline", p.name, "err", err)
			if !component.Sleep(pollCtx, batchBackoff.Delay(attempt)) {
				return nil
			}
			attempt++
			continue
		}
		attempt = 0
		events, mem := p.process(msgs)
		if inFlight != nil {
			d := inFlight
			inFlight = nil
			if !p.finish(workCtx, d) {
				return nil
			}
		}
		d := &delivery{done: make(chan error, 1), mem: mem}
		if !p.in.Overlaps() {
			d.done <- p.deliverAndCommit(workCtx, msgs, tok, events)
			if !p.finish(workCtx, d) {
				return nil
			}
			continue
		}
		go func() { d.done <- p.deliverAndCommit(workCtx, msgs, tok, events) }()
		inFlight = d
	}
}

// delivery is a batch being written to the sinks and then committed.
type delivery struct {
	done chan error // the result of deliverAndCommit
	mem  *batchMem  // what the batch was decoded into
}

// finish waits for d; false means workCtx ended first and the batch
// stays uncommitted. The memory of a delivered batch is reused; that of
// one whose delivery was cut short is not, as a sink may still hold it.
func (p *pipeline) finish(_ context.Context, d *delivery) bool {
	if <-d.done != nil {
		return false
	}
	p.recycle(d.mem)
	return true
}

// takeMem returns memory for the next batch: a delivered batch's, or a
// fresh one.
func (p *pipeline) takeMem() *batchMem {
	if n := len(p.free); n > 0 {
		m := p.free[n-1]
		p.free = p.free[:n-1]
		return m
	}
	return &batchMem{}
}

// recycle keeps the memory of a delivered batch; two are enough for
// overlapping batches, one in delivery while the next is decoded.
func (p *pipeline) recycle(m *batchMem) {
	if len(p.free) < 2 {
		m.trim()
		p.free = append(p.free, m)
	}
}

// deliverAndCommit writes a batch's events to the sinks and commits the
// batch at once, so that the last batch before a quiet spell does not
// wait for the next one to be committed. Deliveries run one at a time,
// so commits stay in order.
func (p *pipeline) deliverAndCommit(ctx context.Context, msgs []client.Message, tok commitToken, events []*event.Event) error {
	if err := p.deliver(ctx, events); err != nil {
		return err
	}
	p.commit(ctx, msgs, tok)
	return nil
}

// process decodes a batch and runs the processors on it; the events are
// in mem.
func (p *pipeline) process(msgs []client.Message) (events []*event.Event, mem *batchMem) {
	p.batches.Inc()
	p.eventsIn.Add(len(msgs))
	mem = p.takeMem()
	events = decodeBatch(msgs, mem, func(err error) {
		p.decodeErrors.Inc()
		p.lg.Warn("message skipped: it cannot be decoded", "pipeline", p.name, "err", err)
	})
	for _, st := range p.stages {
		st.in.Add(len(events))
		events = st.proc.Process(events)
		st.out.Add(len(events))
	}
	p.eventsOut.Add(len(events))
	return events, mem
}

// handle processes and delivers one batch as run does, without a commit
// (benchmarks call it).
func (p *pipeline) handle(ctx context.Context, msgs []client.Message) error {
	events, mem := p.process(msgs)
	if err := p.deliver(ctx, events); err != nil {
		return err
	}
	p.recycle(mem)
	return nil
}

// deliver writes events to their sinks, in parallel; it returns an error
// only when ctx ended before every sink accepted its events.
func (p *pipeline) deliver(ctx context.Context, events []*event.Event) error {
	groups := p.route(events)
	if len(groups) == 1 {
		for name, evs := range groups {
			return p.sinks[name].deliver(ctx, p.name, evs, p.dlq)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(groups))
	for name, evs := range groups {
		wg.Go(func() { errs <- p.sinks[name].deliver(ctx, p.name, evs, p.dlq) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// route groups events by the sinks they go to: the pipeline's `to`, or
// the sinks a route processor chose.
func (p *pipeline) route(events []*event.Event) map[string][]*event.Event {
	routed := false
	for _, e := range events {
		if e.Routes != nil {
			routed = true
			break
		}
	}
	groups := make(map[string][]*event.Event, len(p.to))
	if !routed {
		if len(events) == 0 {
			return nil
		}
		for _, s := range p.to {
			groups[s] = events // sinks do not change events: one slice serves all
		}
		return groups
	}
	for _, e := range events {
		dst := p.to
		if e.Routes != nil {
			dst = e.Routes
		}
		for _, s := range dst {
			if _, ok := p.sinks[s]; ok {
				groups[s] = append(groups[s], e)
			}
		}
	}
	return groups
}

// commit records the batch as handled. A failed commit is logged, not
// retried: the next batch's commit covers it, and a queue that moved
// to another member is handed again there.
func (p *pipeline) commit(ctx context.Context, msgs []client.Message, tok commitToken) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := p.in.Commit(cctx, tok); err != nil {
		p.commitErrors.Inc()
		lvl := slog.LevelWarn
		if errors.Is(err, client.ErrFenced) {
			lvl = slog.LevelInfo
		}
		p.lg.Log(ctx, lvl, "commit", "pipeline", p.name, "err", err)
		return
	}
	now := time.Now()
	var newest time.Time
	for i := range msgs {
		m := &msgs[i]
		if !m.BornAt.IsZero() {
			p.delay.Update(now.Sub(m.BornAt).Seconds())
		}
		if m.StoredAt.After(newest) {
			newest = m.StoredAt
		}
	}
	p.lastStoredMu.Lock()
	if newest.After(p.lastStored) {
		p.lastStored = newest
	}
	p.lastStoredMu.Unlock()
}
