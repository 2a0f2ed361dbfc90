package ship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/broker/client"
)

// Sender sends one message and reports its fate to cb exactly once: the
// broker client's Producer, or a Kafka writer for `output: kafka`.
type Sender interface {
	SendAsync(msg client.Message, cb func(client.Result, error))
}

// Spool is the disk queue (agent/spool) as the shipper uses it.
type Spool interface {
	// Append stores rec durably, blocking while the spool is full in
	// block mode.
	Append(ctx context.Context, rec []byte) error
	// Next returns the next unread entry, blocking until there is one,
	// and a function acknowledging it and every entry before it.
	Next(ctx context.Context) (data []byte, ack func() error, err error)
	// Len is the number of entries not yet acknowledged.
	Len() int64
	// Rewind makes Next return the entries not acknowledged again, from
	// the oldest: for a reader whose sends failed.
	Rewind()
}

// DefaultMaxInflight is the default of Config.MaxInflight.
const DefaultMaxInflight = 16 << 20

// Config configures a Shipper.
type Config struct {
	// Sender sends to the broker. Required.
	Sender Sender
	// Spool, if set, takes batches while the broker is away or slow.
	// Without one, Emit blocks instead.
	Spool Spool
	// MaxInflight bounds the bytes sent but not yet acknowledged; beyond
	// it the shipper spools (or blocks). Default 16 MiB.
	MaxInflight int64
	Logger      *slog.Logger
	Metrics     *metrics.Set
}

// Validate reports a field that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Sender == nil {
		errs = append(errs, errors.New("ship: a sender is required"))
	}
	if c.MaxInflight < 0 {
		errs = append(errs, fmt.Errorf("ship: max inflight %d is negative", c.MaxInflight))
	}
	return errors.Join(errs...)
}

// Shipper is a source.Emitter sending to the broker, with a spool.
type Shipper struct {
	cfg Config
	lg  *slog.Logger
	m   *shipMetrics

	mu        sync.Mutex // orders sends; guards the fields below
	spooling  bool
	rewinding bool  // the forwarder is about to read the spool again
	appending int   // spool appends under way
	unread    int64 // entries in the spool not yet read by the forwarder

	// inflight counts bytes with the Sender. Sender callbacks release
	// them under roomMu only, never mu: Emit holds mu while SendAsync may
	// block on the producer's buffer, waiting for those very callbacks.
	inflight atomic.Int64
	roomMu   sync.Mutex
	room     chan struct{} // closed when in-flight bytes were released

	pendMu   sync.Mutex
	pending  []*entryState // spool entries sent, in spool order
	failed   bool          // a pending entry was not delivered: rewind the spool
	progress bool          // an entry was acknowledged since the last rewind

	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// entryState is a spool entry whose records are with the Sender.
type entryState struct {
	ack   func() error
	done  bool
	stuck bool // a record was not delivered: neither it nor later entries may be acked
}

// New returns a shipper; Start starts its spool forwarder.
func New(cfg Config) (*Shipper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSet()
	}
	s := &Shipper{cfg: cfg, lg: cfg.Logger, room: make(chan struct{}), wake: make(chan struct{}, 1)}
	s.m = newShipMetrics(cfg.Metrics, s)
	return s, nil
}

// Start starts the forwarder that drains the spool; a spool holding
// entries from before a restart puts the shipper in spooling mode, so
// those go first.
func (s *Shipper) Start() {
	if s.cfg.Spool == nil {
		return
	}
	s.mu.Lock()
	s.unread = s.cfg.Spool.Len()
	s.spooling = s.unread > 0
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.forward(ctx)
}

// Close stops the forwarder. Records still with the Sender are its
// owner's to flush; spool entries not acknowledged are replayed after a
// restart.
func (s *Shipper) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}

// Emit sends recs, or spools them when the broker is behind.
func (s *Shipper) Emit(ctx context.Context, recs []source.Record, ack func(error)) error {
	if len(recs) == 0 {
		if ack != nil {
			ack(nil)
		}
		return nil
	}
	for {
		s.mu.Lock()
		s.leaveSpoolingIfDrainedLocked()
		behind := s.inflight.Load() >= s.cfg.MaxInflight
		if s.cfg.Spool != nil && (s.spooling || behind) {
			if !s.spooling {
				s.lg.Warn("broker behind: spooling to disk", "inflight_bytes", s.inflight.Load())
				s.spooling = true
			}
			s.appending++
			s.mu.Unlock()
			return s.spoolBatch(ctx, recs, ack)
		}
		if behind {
			s.mu.Unlock()
			if !s.waitRoom(ctx) {
				return ctx.Err()
			}
			continue
		}
		s.sendLocked(recs, func(err error) { s.directDone(len(recs), ack, err) })
		s.mu.Unlock()
		return nil
	}
}

// directDone reports a directly sent batch to its source.
func (s *Shipper) directDone(n int, ack func(error), err error) {
	if err != nil && undelivered(err) {
		// Not delivered (shutting down): the source keeps its place and
		// reads the records again after a restart.
		if ack != nil {
			ack(err)
		}
		return
	}
	if ack != nil {
		ack(nil)
	}
}

// undelivered reports whether err leaves a record to be sent again later,
// as opposed to refused for good.
func undelivered(err error) bool {
	return client.IsRetriable(err) || errors.Is(err, client.ErrClosed) || errors.Is(err, context.Canceled)
}

// sendLocked hands recs to the Sender; done runs once with the first
// error (or nil) when every record has its answer.
func (s *Shipper) sendLocked(recs []source.Record, done func(error)) {
	t := &tracker{left: int64(len(recs)), done: done}
	for i := range recs {
		r := &recs[i]
		size := int64(len(r.Body) + len(r.Key) + 64)
		s.inflight.Add(size)
		s.cfg.Sender.SendAsync(client.Message{Topic: r.Topic, Key: r.Key, Body: r.Body, Properties: r.Properties, Shared: r.Shared, Extra: r.Extra, BornAt: r.Time},
			func(_ client.Result, err error) {
				s.release(size)
				if err != nil && !undelivered(err) {
					s.m.dropped.Inc()
					s.lg.Error("the broker refused a record for good; it is dropped", "topic", r.Topic, "err", err)
					err = nil
				} else if err == nil {
					s.m.shipped.Inc()
				}
				t.finish(err)
			})
	}
}

// release returns size bytes of in-flight room and wakes waiters.
func (s *Shipper) release(size int64) {
	if s.inflight.Add(-size)+size >= s.cfg.MaxInflight {
		s.roomMu.Lock()
		close(s.room)
		s.room = make(chan struct{})
		s.roomMu.Unlock()
	}
}

// tracker collects the answers of one batch's records.
type tracker struct {
	mu   sync.Mutex
	left int64
	err  error
	done func(error)
}

func (t *tracker) finish(err error) {
	t.mu.Lock()
	if err != nil && t.err == nil {
		t.err = err
	}
	t.left--
	last := t.left == 0
	t.mu.Unlock()
	if last {
		t.done(t.err)
	}
}

// spoolBatch appends recs to the spool and acks them to their source.
func (s *Shipper) spoolBatch(ctx context.Context, recs []source.Record, ack func(error)) error {
	err := s.appendSplit(ctx, recs)
	s.mu.Lock()
	s.appending--
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("spool %d records: %w", len(recs), err)
	}
	s.m.spooled.Add(len(recs))
	if ack != nil {
		ack(nil)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// appendSplit appends recs as one spool entry or, when the spool refuses
// it, as two halves, each split again as needed: a small spool takes
// records of at most an eighth of its max_size, less than a source's
// batch may be. Other errors fail as fast (the first half fails too).
func (s *Shipper) appendSplit(ctx context.Context, recs []source.Record) error {
	err := s.cfg.Spool.Append(ctx, encodeBatch(nil, recs))
	if err == nil {
		s.mu.Lock()
		s.unread++
		s.mu.Unlock()
		return nil
	}
	if len(recs) < 2 || ctx.Err() != nil {
		return err
	}
	half := len(recs) / 2
	if err := s.appendSplit(ctx, recs[:half]); err != nil {
		return err
	}
	return s.appendSplit(ctx, recs[half:])
}

// forward drains the spool into the Sender, in order, within MaxInflight.
func (s *Shipper) forward(ctx context.Context) {
	defer s.wg.Done()
	rewinds := 0
	for attempt := 0; ctx.Err() == nil; {
		if s.sendFailed() {
			if !s.rewind(ctx, &rewinds) {
				return
			}
			continue
		}
		if !s.waitRoom(ctx) {
			return
		}
		data, ack, err := s.cfg.Spool.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.lg.Error("read spool", "err", err)
			if !sleep(ctx, backoff(attempt)) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		st := &entryState{ack: ack}
		s.pendMu.Lock()
		s.pending = append(s.pending, st)
		s.pendMu.Unlock()
		recs, err := decodeBatch(data)
		s.mu.Lock()
		s.unread--
		if err != nil {
			s.m.corrupt.Inc()
			s.lg.Error("spool entry cannot be decoded; it is skipped", "bytes", len(data), "err", err)
			s.entryDone(st, nil)
		} else {
			s.sendLocked(recs, func(err error) { s.entryDone(st, err) })
		}
		s.leaveSpoolingIfDrainedLocked()
		s.mu.Unlock()
	}
}

// leaveSpoolingIfDrainedLocked goes back to direct sends once every
// spooled entry was read by the forwarder and no append is under way:
// what is sent next comes after every spooled record.
func (s *Shipper) leaveSpoolingIfDrainedLocked() {
	if !s.spooling || s.appending > 0 || s.rewinding {
		return
	}
	// With when_full: drop_oldest the spool drops entries the forwarder
	// never read, which unread still counts. The spool's count of
	// entries not acknowledged (read or not) bounds it from above, so
	// the bound never lets direct sends overtake an unread entry, and
	// reaches 0 once the spool is empty.
	s.unread = min(s.unread, s.cfg.Spool.Len())
	if s.unread <= 0 {
		s.spooling = false
		s.lg.Info("spool drained: sending directly again")
	}
}

// waitRoom waits until the in-flight bytes are below MaxInflight.
func (s *Shipper) waitRoom(ctx context.Context) bool {
	for {
		s.roomMu.Lock()
		if s.inflight.Load() < s.cfg.MaxInflight {
			s.roomMu.Unlock()
			return true
		}
		room := s.room
		s.roomMu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return false
		}
	}
}

// entryDone marks a spool entry answered and acknowledges, in spool
// order, every entry whose records and predecessors are all delivered.
func (s *Shipper) entryDone(st *entryState, err error) {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	st.done, st.stuck = true, err != nil
	s.failed = s.failed || st.stuck
	for len(s.pending) > 0 && s.pending[0].done && !s.pending[0].stuck {
		if err := s.pending[0].ack(); err != nil {
			s.lg.Error("acknowledge spool entry", "err", err)
		}
		s.pending = s.pending[1:]
		s.progress = true
	}
}

// sendFailed reports whether a spooled entry was not delivered.
func (s *Shipper) sendFailed() bool {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	return s.failed
}

// rewind reads the spool again from its oldest unacknowledged entry
// after a spooled record was not delivered while the shipper runs on
// (the Sender gave up on it). It waits for the answers of every entry
// sent, so that none is acknowledged after the rewind, and for a back-off
// growing with the rewinds that made no progress. Entries delivered after
// the failed one are sent again: delivery stays at least once. New
// batches go to the spool, behind the entries read again. It returns
// false once ctx ended.
func (s *Shipper) rewind(ctx context.Context, rewinds *int) bool {
	s.mu.Lock()
	s.spooling, s.rewinding = true, true
	s.mu.Unlock()
	for {
		s.pendMu.Lock()
		answered := true
		for _, st := range s.pending {
			answered = answered && st.done
		}
		if answered {
			if s.progress {
				*rewinds = 0
			}
			s.pending, s.failed, s.progress = nil, false, false
		}
		s.pendMu.Unlock()
		if answered {
			break
		}
		if !sleep(ctx, 10*time.Millisecond) {
			return false
		}
	}
	if !sleep(ctx, backoff(*rewinds)) {
		return false
	}
	*rewinds++
	s.mu.Lock()
	s.cfg.Spool.Rewind()
	// Every entry not acknowledged is unread again; an append counted
	// twice meanwhile only delays the return to direct sends.
	s.unread = s.cfg.Spool.Len()
	s.rewinding = false
	s.mu.Unlock()
	s.m.rewinds.Inc()
	s.lg.Warn("a spooled batch was not delivered: sending the spool again from its oldest unacknowledged entry",
		"entries", s.cfg.Spool.Len())
	return true
}

func backoff(attempt int) time.Duration {
	return min(50*time.Millisecond<<min(attempt, 10), 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
