package groups

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/protocol"
)

// List describes every group on every topic it consumes, with lag, sorted
// by group then topic.
func (c *Coordinator) List() []protocol.GroupInfo {
	return c.describe(func(subKey) bool { return true })
}

// Describe describes group on each topic it consumes, with lag. A group
// that consumes nothing gets CodeUnknownGroup.
func (c *Coordinator) Describe(group string) ([]protocol.GroupInfo, error) {
	infos := c.describe(func(k subKey) bool { return k.group == group })
	if len(infos) == 0 {
		return nil, protocol.Errorf(protocol.CodeUnknownGroup, "group %s does not exist", group)
	}
	return infos, nil
}

// subSnap is what describe needs of a subscription, copied under the lock
// so that the lag, which asks the store, is computed without it.
type subSnap struct {
	info      protocol.GroupInfo
	startFrom string
	committed map[uint32]int64
	owner     map[uint32]string
}

func (c *Coordinator) describe(match func(subKey) bool) []protocol.GroupInfo {
	c.mu.Lock()
	now := c.cfg.Now()
	var snaps []subSnap
	for k, s := range c.subs {
		if !match(k) || c.closed {
			continue
		}
		c.expireLocked(s, now)
		snaps = append(snaps, snapshotLocked(s))
	}
	c.mu.Unlock()

	infos := make([]protocol.GroupInfo, 0, len(snaps))
	for _, sn := range snaps {
		if sn.info.Mode == protocol.ModeClustering {
			c.fillLag(&sn)
		}
		infos = append(infos, sn.info)
	}
	slices.SortFunc(infos, func(a, b protocol.GroupInfo) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Topic, b.Topic))
	})
	return infos
}

func snapshotLocked(s *subscription) subSnap {
	sn := subSnap{
		info: protocol.GroupInfo{Group: s.group, Topic: s.topic, Mode: s.mode,
			Generation: s.generation, Members: []protocol.MemberInfo{}},
		startFrom: s.startFrom,
		committed: maps.Clone(s.committed),
		owner:     maps.Clone(s.owner),
	}
	for _, m := range s.members {
		mi := protocol.MemberInfo{MemberID: m.id, ClientID: m.clientID, Queues: []uint32{}}
		if s.mode == protocol.ModeBroadcasting {
			for q := range uint32(s.numQueues) {
				mi.Queues = append(mi.Queues, q)
			}
		} else {
			mi.Queues = append(mi.Queues, queuesOf(s.owner, m.id)...)
		}
		sn.info.Members = append(sn.info.Members, mi)
	}
	slices.SortFunc(sn.info.Members, func(a, b protocol.MemberInfo) int { return cmp.Compare(a.MemberID, b.MemberID) })
	return sn
}

// fillLag adds the lag of every queue of the topic to sn.info. Queues the
// store cannot answer for (the topic is being deleted) are left out.
func (c *Coordinator) fillLag(sn *subSnap) {
	n, err := c.cfg.Queues.NumQueues(sn.info.Topic)
	if err != nil {
		c.log.Debug("no lag for group", "group", sn.info.Group, "topic", sn.info.Topic, "err", err)
		return
	}
	for q := range uint32(n) {
		off, ok := sn.committed[q]
		l, err := c.queueLag(sn.info.Topic, q, off, ok, sn.startFrom)
		if err != nil {
			c.log.Debug("no lag for queue", "group", sn.info.Group, "topic", sn.info.Topic, "queue", q, "err", err)
			continue
		}
		l.Owner = sn.owner[q]
		sn.info.Lag = append(sn.info.Lag, l)
		sn.info.TotalLag += l.Lag
	}
}

// queueLag measures a group's progress on one queue: from the committed
// offset (or where the group would start if it has none), raised to the
// queue's minimum when retention removed what it pointed at, to the
// queue's next offset.
func (c *Coordinator) queueLag(topic string, q uint32, committed int64, hasCommitted bool, startFrom string) (protocol.QueueLag, error) {
	lo, next, err := c.cfg.Queues.QueueRange(topic, q)
	if err != nil {
		return protocol.QueueLag{}, err
	}
	pos := clamp(committed, lo, next)
	if !hasCommitted {
		sp, _ := parseStart(startFrom, true) // checked when stored
		if pos, err = sp.position(c.cfg.Queues, topic, q, lo, next); err != nil {
			return protocol.QueueLag{}, err
		}
		committed = pos
	}
	l := protocol.QueueLag{Queue: q, Committed: committed, Max: next, Lag: next - pos}
	if l.Lag > 0 {
		if ms, err := c.cfg.Queues.StoredAtMs(topic, q, pos); err == nil {
			l.OldestAgeMs = max(0, c.cfg.Now().UnixMilli()-ms)
		}
	}
	return l, nil
}

// groupMetrics are the coordinator's metrics, all in the Set it was given.
type groupMetrics struct {
	set              *metrics.Set
	names            []string // registered at Open, unregistered at Close
	rebalances       *metrics.Counter
	commits          *metrics.Counter
	fencedCommits    *metrics.Counter
	expiries         *metrics.Counter
	stateWrites      *metrics.Counter
	stateWriteErrors *metrics.Counter
}

func newGroupMetrics(c *Coordinator, set *metrics.Set) *groupMetrics {
	m := &groupMetrics{set: set}
	counter := func(name string) *metrics.Counter {
		m.names = append(m.names, name)
		return set.NewCounter(name)
	}
	m.rebalances = counter("sluice_group_rebalances_total")
	m.commits = counter("sluice_group_commits_total")
	m.fencedCommits = counter("sluice_group_fenced_commits_total")
	m.expiries = counter("sluice_group_session_expiries_total")
	m.stateWrites = counter("sluice_group_state_writes_total")
	m.stateWriteErrors = counter("sluice_group_state_write_errors_total")
	m.names = append(m.names, "sluice_group_members", "sluice_group_subscriptions")
	set.NewGauge("sluice_group_members", func() float64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := 0
		for _, s := range c.subs {
			n += len(s.members)
		}
		return float64(n)
	})
	set.NewGauge("sluice_group_subscriptions", func() float64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return float64(len(c.subs))
	})
	return m
}

func lagGaugeNames(s *subscription, q uint32) (messages, age string) {
	labels := fmt.Sprintf(`{group="%s",topic="%s",queue="%d"}`, s.group, s.topic, q)
	return "sluice_group_lag_messages" + labels, "sluice_group_lag_oldest_seconds" + labels
}

// registerLagGaugesLocked creates the lag gauges of a clustering
// subscription for its known queues that have none yet. The gauges read the
// coordinator at scrape time.
func (c *Coordinator) registerLagGaugesLocked(s *subscription) {
	if c.m == nil || s.mode != protocol.ModeClustering {
		return
	}
	if s.gauged == nil {
		s.gauged = map[uint32]bool{}
	}
	add := func(q uint32) {
		if s.gauged[q] {
			return
		}
		s.gauged[q] = true
		k := subKey{s.group, s.topic}
		msgs, age := lagGaugeNames(s, q)
		c.m.set.GetOrCreateGauge(msgs, func() float64 {
			l, _ := c.gaugeLag(k, q)
			return float64(l.Lag)
		})
		c.m.set.GetOrCreateGauge(age, func() float64 {
			l, _ := c.gaugeLag(k, q)
			return float64(l.OldestAgeMs) / 1000
		})
	}
	for q := range uint32(s.numQueues) {
		add(q)
	}
	for q := range s.committed {
		add(q)
	}
}

// gaugeLag is a lag gauge's callback; a subscription gone since it was
// registered reads as zero.
func (c *Coordinator) gaugeLag(k subKey, q uint32) (protocol.QueueLag, error) {
	c.mu.Lock()
	s := c.subs[k]
	if s == nil || s.mode != protocol.ModeClustering {
		c.mu.Unlock()
		return protocol.QueueLag{}, nil
	}
	off, ok := s.committed[q]
	startFrom := s.startFrom
	c.mu.Unlock()
	return c.queueLag(k.topic, q, off, ok, startFrom)
}

func (c *Coordinator) unregisterLagGaugesLocked(s *subscription) {
	for q := range s.gauged {
		msgs, age := lagGaugeNames(s, q)
		c.m.set.UnregisterMetric(msgs)
		c.m.set.UnregisterMetric(age)
	}
	s.gauged = nil
}

// unregisterMetrics removes every metric of the coordinator from its set,
// so that the set can outlive it (and serve a coordinator opened again).
func (c *Coordinator) unregisterMetrics() {
	c.mu.Lock()
	for _, s := range c.subs {
		c.unregisterLagGaugesLocked(s)
	}
	c.mu.Unlock()
	for _, name := range c.m.names {
		c.m.set.UnregisterMetric(name)
	}
}
