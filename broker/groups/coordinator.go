package groups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

// expiryInterval is how often the reaper looks for expired sessions; it is
// well under the shortest session a member may ask for.
const expiryInterval = 250 * time.Millisecond

// Coordinator keeps the consumer groups of one broker. All methods are safe
// for concurrent use.
type Coordinator struct {
	cfg  Config
	fs   vfs.FS
	path string
	log  *slog.Logger
	m    *groupMetrics

	mu     sync.Mutex
	subs   map[subKey]*subscription
	closed bool
	// Persistence (see state.go): dirtySeq counts changes of the persisted
	// state, durableSeq is the last one on disk, failedSeq the last one a
	// failed write covered, attempts the number of finished writes.
	dirtySeq, durableSeq, failedSeq, attempts uint64
	writeErr                                  error
	flushed                                   chan struct{} // closed and replaced after each write
	flusherDone                               bool

	kick     chan struct{} // capacity 1: "the state is dirty"
	stop     chan struct{}
	wg       sync.WaitGroup
	closeErr error // the flusher's last write at Close
	once     sync.Once
}

type subKey struct{ group, topic string }

// subscription is a group's state on one topic.
type subscription struct {
	group, topic string
	mode         string
	tags         string
	startFrom    string
	generation   int64
	// committed is the next offset to consume per queue (clustering only).
	committed map[uint32]int64
	// numQueues is the topic's queue count as of the last join; 0 until a
	// member joins after Open.
	numQueues int
	members   map[string]*member
	owner     map[uint32]string // queue -> member ID (clustering only)
	gauged    map[uint32]bool   // queues whose lag metrics are registered
}

type member struct {
	id, clientID string
	timeout      time.Duration
	lastSeen     time.Time
}

func newSubscription(group, topic, mode, tags, startFrom string) *subscription {
	return &subscription{group: group, topic: topic, mode: mode, tags: tags, startFrom: startFrom,
		committed: map[uint32]int64{}, members: map[string]*member{}, owner: map[uint32]string{}}
}

// Open loads the persisted state from cfg.Dir and starts the flusher and the
// session reaper. Close stops them.
func Open(cfg Config) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Coordinator{
		cfg: cfg, fs: cfg.FS, path: statePath(cfg.Dir), log: cfg.Logger,
		subs:    map[subKey]*subscription{},
		flushed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.m = newGroupMetrics(c, cfg.Metrics)
	c.mu.Lock()
	for _, s := range c.subs {
		c.registerLagGaugesLocked(s)
	}
	c.mu.Unlock()
	c.wg.Add(2)
	go c.flushLoop()
	go c.reapLoop()
	return c, nil
}

// Close stops the goroutines and writes the state if it changed since the
// last write. Later calls return the first call's result; other methods
// fail with CodeShuttingDown.
func (c *Coordinator) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.stop)
		c.wg.Wait()
		c.unregisterMetrics()
	})
	return c.closeErr
}

// Metrics returns the set holding the coordinator's metrics.
func (c *Coordinator) Metrics() *metrics.Set { return c.cfg.Metrics }

func errClosed() error {
	return protocol.Errorf(protocol.CodeShuttingDown, "group coordinator is closed")
}

func badRequest(err error) error { return protocol.Errorf(protocol.CodeBadRequest, "%v", err) }

// reapLoop expires members whose session ran out, so that their queues move
// even when no request touches their group.
func (c *Coordinator) reapLoop() {
	defer c.wg.Done()
	t := time.NewTicker(expiryInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.mu.Lock()
			now := c.cfg.Now()
			for _, s := range c.subs {
				c.expireLocked(s, now)
			}
			c.mu.Unlock()
		}
	}
}

// expireLocked removes the members of s that have not heartbeated within
// their session timeout and moves their queues. Every operation on s calls
// it first, so an expired member is gone even before the reaper runs.
func (c *Coordinator) expireLocked(s *subscription, now time.Time) {
	var gone []string
	for id, m := range s.members {
		if now.Sub(m.lastSeen) > m.timeout {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return
	}
	slices.Sort(gone)
	for _, id := range gone {
		delete(s.members, id)
		c.m.expiries.Inc()
	}
	c.log.Info("consumer session expired", "group", s.group, "topic", s.topic, "members", gone)
	c.rebalanceLocked(s)
}

// rebalanceLocked recomputes the assignment of s after its members or queue
// count changed, bumping the generation if any queue changed hands.
func (c *Coordinator) rebalanceLocked(s *subscription) {
	if s.mode != protocol.ModeClustering {
		return
	}
	ids := make([]string, 0, len(s.members))
	for id := range s.members {
		ids = append(ids, id)
	}
	next := rebalance(s.owner, ids, s.numQueues)
	if sameOwners(next, s.owner) {
		return
	}
	s.owner = next
	s.generation++
	c.m.rebalances.Inc()
	c.markDirtyLocked() // the generation is persisted; nobody waits for it
	c.log.Info("consumer group rebalanced", "group", s.group, "topic", s.topic,
		"generation", s.generation, "members", len(s.members), "queues", s.numQueues)
}

// Join makes a consumer a member of r.Group on r.Topic and returns its
// assignment. A first join (empty MemberID) creates a member; a join with a
// MemberID refreshes that member, or recreates it under that ID if the
// broker forgot it (restart, expired session), so a client keeps its ID.
// The first join of a group on a topic creates the subscription; Join
// returns once the subscription is durable. Mode, tags and start_from are the subscription's:
// tags and start_from follow the latest join; the mode can change only
// while the group has no live members on the topic.
func (c *Coordinator) Join(ctx context.Context, r protocol.JoinGroup) (protocol.Assignment, error) {
	mode, timeout, err := c.checkJoin(r)
	if err != nil {
		return protocol.Assignment{}, err
	}
	n, err := c.cfg.Queues.NumQueues(r.Topic)
	if err != nil {
		return protocol.Assignment{}, topicError(r.Topic, err)
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return protocol.Assignment{}, errClosed()
	}
	now := c.cfg.Now()
	s, created, err := c.subscriptionForJoinLocked(r, mode, n, now)
	if err != nil {
		c.mu.Unlock()
		return protocol.Assignment{}, err
	}
	id := r.MemberID
	if id == "" {
		id = newMemberID(r.ClientID)
	}
	m := s.members[id]
	if m == nil {
		m = &member{id: id}
		s.members[id] = m
		c.log.Debug("consumer joined", "group", s.group, "topic", s.topic, "member", id)
	}
	m.clientID, m.timeout, m.lastSeen = r.ClientID, timeout, now
	c.rebalanceLocked(s)
	c.registerLagGaugesLocked(s)
	a, err := c.assignmentLocked(s, m)
	// The member will consume from the returned offsets and commit past
	// them, so the subscription they come from (a pinned "latest" above
	// all) must be on disk first, or a crash could make the group start
	// elsewhere. Usually nothing is pending and this does not wait.
	var seq, attempts uint64
	if created {
		seq, attempts = c.markDirtyLocked()
	} else {
		seq, attempts = c.pendingLocked()
	}
	c.mu.Unlock()
	if err != nil {
		return protocol.Assignment{}, err
	}
	if err := c.waitDurable(ctx, seq, attempts); err != nil {
		return protocol.Assignment{}, err
	}
	return a, nil
}

// checkJoin validates a join request and returns its mode and session timeout.
func (c *Coordinator) checkJoin(r protocol.JoinGroup) (string, time.Duration, error) {
	if err := errors.Join(validName("group", r.Group), validName("topic", r.Topic)); err != nil {
		return "", 0, badRequest(err)
	}
	if r.MemberID != "" {
		if err := validMemberID(r.MemberID); err != nil {
			return "", 0, badRequest(err)
		}
	}
	mode := r.Mode
	switch mode {
	case "":
		mode = protocol.ModeClustering
	case protocol.ModeClustering, protocol.ModeBroadcasting:
	default:
		return "", 0, protocol.Errorf(protocol.CodeBadRequest, "mode %q: want %s or %s",
			r.Mode, protocol.ModeClustering, protocol.ModeBroadcasting)
	}
	if _, err := parseStart(r.StartFrom, true); err != nil {
		return "", 0, protocol.Errorf(protocol.CodeBadRequest, "start_from: %v", err)
	}
	timeout := c.cfg.SessionTimeout
	if r.SessionTimeoutMs != 0 {
		timeout = time.Duration(r.SessionTimeoutMs) * time.Millisecond
		if timeout < MinSessionTimeout || timeout > MaxSessionTimeout {
			return "", 0, protocol.Errorf(protocol.CodeBadRequest, "session timeout %v is not between %v and %v",
				timeout, MinSessionTimeout, MaxSessionTimeout)
		}
	}
	return mode, timeout, nil
}

// subscriptionForJoinLocked finds or creates the subscription r joins.
func (c *Coordinator) subscriptionForJoinLocked(r protocol.JoinGroup, mode string, n int, now time.Time) (*subscription, bool, error) {
	startFrom := r.StartFrom
	if startFrom == "" {
		startFrom = "earliest"
	}
	k := subKey{r.Group, r.Topic}
	s := c.subs[k]
	if s == nil {
		s = newSubscription(r.Group, r.Topic, mode, r.Tags, startFrom)
		s.numQueues = n
		if mode == protocol.ModeClustering && startFrom == "latest" {
			// Pin "latest" now: a later restart must resume here, not at
			// the queue's end at that time, or it would skip messages.
			for q := range uint32(n) {
				_, next, err := c.cfg.Queues.QueueRange(r.Topic, q)
				if err != nil {
					return nil, false, topicError(r.Topic, err)
				}
				s.committed[q] = next
			}
		}
		c.subs[k] = s
		c.log.Info("consumer group created", "group", r.Group, "topic", r.Topic, "mode", mode, "start_from", startFrom)
		return s, true, nil
	}
	c.expireLocked(s, now)
	if mode != s.mode {
		if len(s.members) > 0 {
			return nil, false, protocol.Errorf(protocol.CodeBadRequest,
				"group %s consumes topic %s in %s mode; a member asked for %s", s.group, s.topic, s.mode, mode)
		}
		c.log.Info("consumer group changed mode", "group", s.group, "topic", s.topic, "from", s.mode, "to", mode)
		s.mode = mode
		s.owner = map[uint32]string{}
		c.unregisterLagGaugesLocked(s)
		c.markDirtyLocked()
	}
	if s.tags != r.Tags || s.startFrom != startFrom {
		s.tags, s.startFrom = r.Tags, startFrom
		c.markDirtyLocked()
	}
	s.numQueues = n
	return s, false, nil
}

// Heartbeat keeps a member alive and returns its current assignment (the
// request's generation is informational: the answer carries the current
// one). An unknown or expired member gets CodeUnknownMember and must join
// again.
func (c *Coordinator) Heartbeat(ctx context.Context, r protocol.Heartbeat) (protocol.Assignment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, m, err := c.memberLocked(r.Group, r.Topic, r.MemberID)
	if err != nil {
		return protocol.Assignment{}, err
	}
	m.lastSeen = c.cfg.Now()
	return c.assignmentLocked(s, m)
}

// Leave removes a member at once and moves its queues. Leaving is
// idempotent: an unknown member is not an error.
func (c *Coordinator) Leave(ctx context.Context, r protocol.LeaveGroup) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed()
	}
	s := c.subs[subKey{r.Group, r.Topic}]
	if s == nil || s.members[r.MemberID] == nil {
		return nil
	}
	delete(s.members, r.MemberID)
	c.log.Debug("consumer left", "group", s.group, "topic", s.topic, "member", r.MemberID)
	c.expireLocked(s, c.cfg.Now())
	c.rebalanceLocked(s)
	return nil
}

// memberLocked finds a live member, expiring stale ones first.
func (c *Coordinator) memberLocked(group, topic, id string) (*subscription, *member, error) {
	if c.closed {
		return nil, nil, errClosed()
	}
	s := c.subs[subKey{group, topic}]
	if s != nil {
		c.expireLocked(s, c.cfg.Now())
		if m := s.members[id]; m != nil {
			return s, m, nil
		}
	}
	return nil, nil, protocol.Errorf(protocol.CodeUnknownMember,
		"member %q is not in group %s on topic %s; join again", id, group, topic)
}

// assignmentLocked returns m's queues and where to start on each: the
// committed offset, or the subscription's start_from where there is none.
// Positions matter only for queues new to the member: it keeps its own
// position on queues it already consumes.
func (c *Coordinator) assignmentLocked(s *subscription, m *member) (protocol.Assignment, error) {
	a := protocol.Assignment{MemberID: m.id, Generation: s.generation,
		HeartbeatMs: m.timeout.Milliseconds() / 3, Queues: []protocol.QueuePosition{}}
	var qs []uint32
	if s.mode == protocol.ModeBroadcasting {
		for q := range uint32(s.numQueues) {
			qs = append(qs, q)
		}
	} else {
		qs = queuesOf(s.owner, m.id)
	}
	for _, q := range qs {
		off, err := c.startOffsetLocked(s, q)
		if err != nil {
			return protocol.Assignment{}, err
		}
		a.Queues = append(a.Queues, protocol.QueuePosition{Queue: q, Offset: off})
	}
	return a, nil
}

// startOffsetLocked returns where a consumer of s starts on queue q.
func (c *Coordinator) startOffsetLocked(s *subscription, q uint32) (int64, error) {
	lo, next, err := c.cfg.Queues.QueueRange(s.topic, q)
	if err != nil {
		return 0, topicError(s.topic, err)
	}
	if s.mode == protocol.ModeClustering {
		if off, ok := s.committed[q]; ok {
			return clamp(off, lo, next), nil
		}
	}
	sp, _ := parseStart(s.startFrom, true) // checked when stored
	off, err := sp.position(c.cfg.Queues, s.topic, q, lo, next)
	if err != nil {
		return 0, topicError(s.topic, err)
	}
	if s.mode == protocol.ModeClustering && sp.kind == startLatest {
		s.committed[q] = off // pinned, as at creation: see subscriptionForJoinLocked
		c.markDirtyLocked()
	}
	return off, nil
}

// topicError turns ErrUnknownTopic into the protocol's code and wraps the rest.
func topicError(topic string, err error) error {
	if errors.Is(err, ErrUnknownTopic) {
		return protocol.Errorf(protocol.CodeUnknownTopic, "topic %s does not exist", topic)
	}
	return fmt.Errorf("topic %s: %w", topic, err)
}

// newMemberID makes a member ID from the client's ID and a random suffix.
func newMemberID(clientID string) string {
	if clientID == "" || validMemberID(clientID) != nil {
		clientID = "member"
	}
	if len(clientID) > 100 {
		clientID = clientID[:100]
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return clientID + "-" + hex.EncodeToString(b[:])
}
