package groups

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/broker/protocol"
)

// Commit stores a group's progress and returns once it is on disk. Offsets
// are the next offsets to consume.
//
// In clustering mode the request is all or nothing: every queue in it must
// be owned by r.MemberID in the current assignment, or the whole request
// fails with CodeFenced naming the queue (the member lost it in a
// rebalance and must stop consuming it). The member's generation is not
// compared: a commit from the current owner is right even if other queues
// moved since the member last heard. A commit lower than the stored offset
// is stored as-is: a consumer commits in order, so a lower offset means it
// rewound on purpose. An empty MemberID is an administrator's commit,
// allowed only while the group has no live members (CodeGroupActive).
//
// In broadcasting mode each member keeps its own progress: Commit stores
// nothing and returns nil.
//
// If ctx ends before the write, the offsets are still applied in memory
// and will be written; Commit returns ctx's error.
func (c *Coordinator) Commit(ctx context.Context, r protocol.CommitOffsets) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed()
	}
	s, err := c.checkCommitLocked(r)
	if err != nil || s.mode == protocol.ModeBroadcasting || len(r.Offsets) == 0 {
		c.mu.Unlock()
		return err
	}
	changed := false
	for _, p := range r.Offsets {
		if old, ok := s.committed[p.Queue]; !ok || old != p.Offset {
			s.committed[p.Queue] = p.Offset
			changed = true
		}
	}
	c.registerLagGaugesLocked(s)
	c.m.commits.Inc()
	var seq, attempts uint64
	if changed {
		seq, attempts = c.markDirtyLocked()
	} else {
		seq, attempts = c.pendingLocked()
	}
	c.mu.Unlock()
	return c.waitDurable(ctx, seq, attempts)
}

// checkCommitLocked returns the subscription r commits to, or why it may not.
func (c *Coordinator) checkCommitLocked(r protocol.CommitOffsets) (*subscription, error) {
	s := c.subs[subKey{r.Group, r.Topic}]
	if s == nil {
		return nil, unknownGroup(r.Group, r.Topic)
	}
	c.expireLocked(s, c.cfg.Now())
	if s.mode == protocol.ModeBroadcasting {
		return s, nil
	}
	for _, p := range r.Offsets {
		if p.Offset < 0 {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "queue %d: negative offset %d", p.Queue, p.Offset)
		}
		if s.numQueues > 0 && int(p.Queue) >= s.numQueues {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "queue %d: topic %s has %d queues",
				p.Queue, s.topic, s.numQueues)
		}
	}
	if r.MemberID == "" {
		if len(s.members) > 0 {
			return nil, protocol.Errorf(protocol.CodeGroupActive,
				"group %s has %d live members on topic %s; only they may commit", s.group, len(s.members), s.topic)
		}
		return s, nil
	}
	if s.members[r.MemberID] == nil {
		return nil, protocol.Errorf(protocol.CodeUnknownMember,
			"member %q is not in group %s on topic %s; join again", r.MemberID, s.group, s.topic)
	}
	for _, p := range r.Offsets {
		if owner := s.owner[p.Queue]; owner != r.MemberID {
			c.m.fencedCommits.Inc()
			return nil, protocol.Errorf(protocol.CodeFenced,
				"queue %d of topic %s is not assigned to member %q in generation %d of group %s; join again",
				p.Queue, s.topic, r.MemberID, s.generation, s.group)
		}
	}
	return s, nil
}

func unknownGroup(group, topic string) error {
	return protocol.Errorf(protocol.CodeUnknownGroup, "group %s does not consume topic %s", group, topic)
}

// Offsets returns the committed offsets of r.Group on r.Topic, by queue.
// Queues the group has not committed on are left out; a broadcasting
// group has none.
func (c *Coordinator) Offsets(r protocol.FetchOffsets) (protocol.OffsetsResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return protocol.OffsetsResponse{}, errClosed()
	}
	s := c.subs[subKey{r.Group, r.Topic}]
	if s == nil {
		return protocol.OffsetsResponse{}, unknownGroup(r.Group, r.Topic)
	}
	resp := protocol.OffsetsResponse{Offsets: []protocol.QueuePosition{}}
	if s.mode == protocol.ModeBroadcasting {
		return resp, nil
	}
	for q, off := range s.committed {
		resp.Offsets = append(resp.Offsets, protocol.QueuePosition{Queue: q, Offset: off})
	}
	slices.SortFunc(resp.Offsets, func(a, b protocol.QueuePosition) int { return cmp.Compare(a.Queue, b.Queue) })
	return resp, nil
}

// Reset moves a clustering group with no live members on r.Topic to
// r.To ("earliest", "latest" or an RFC 3339 time) on every queue, and
// returns once that is durable. A group with live members gets
// CodeGroupActive: stop its consumers first.
func (c *Coordinator) Reset(ctx context.Context, r protocol.ResetGroup) error {
	to, err := parseStart(r.To, false)
	if err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "reset to: %v", err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed()
	}
	seq, attempts, err := c.resetLocked(r, to)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.waitDurable(ctx, seq, attempts)
}

func (c *Coordinator) resetLocked(r protocol.ResetGroup, to startPos) (seq, attempts uint64, err error) {
	s := c.subs[subKey{r.Group, r.Topic}]
	if s == nil {
		return 0, 0, unknownGroup(r.Group, r.Topic)
	}
	c.expireLocked(s, c.cfg.Now())
	if len(s.members) > 0 {
		return 0, 0, protocol.Errorf(protocol.CodeGroupActive,
			"group %s has %d live members on topic %s; stop them before a reset", s.group, len(s.members), s.topic)
	}
	if s.mode == protocol.ModeBroadcasting {
		return 0, 0, protocol.Errorf(protocol.CodeBadRequest,
			"group %s consumes topic %s in broadcasting mode: its members keep their own progress", s.group, s.topic)
	}
	n, err := c.cfg.Queues.NumQueues(s.topic)
	if err != nil {
		return 0, 0, topicError(s.topic, err)
	}
	offsets := make(map[uint32]int64, n)
	for q := range uint32(n) {
		lo, next, err := c.cfg.Queues.QueueRange(s.topic, q)
		if err != nil {
			return 0, 0, topicError(s.topic, err)
		}
		if offsets[q], err = to.position(c.cfg.Queues, s.topic, q, lo, next); err != nil {
			return 0, 0, topicError(s.topic, err)
		}
	}
	s.committed = offsets
	s.numQueues = n
	c.registerLagGaugesLocked(s)
	c.log.Info("consumer group reset", "group", s.group, "topic", s.topic, "to", r.To)
	seq, attempts = c.markDirtyLocked()
	return seq, attempts, nil
}

// DeleteTopic forgets every group's subscription to a deleted topic, with
// its offsets and members, and returns once that is durable.
func (c *Coordinator) DeleteTopic(topic string) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed()
	}
	var gone []string
	for k, s := range c.subs {
		if k.topic == topic {
			c.unregisterLagGaugesLocked(s)
			delete(c.subs, k)
			gone = append(gone, k.group)
		}
	}
	if len(gone) == 0 {
		c.mu.Unlock()
		return nil
	}
	c.log.Info("topic deleted: its consumer groups are forgotten", "topic", topic, "groups", gone)
	seq, attempts := c.markDirtyLocked()
	c.mu.Unlock()
	if err := c.waitDurable(context.Background(), seq, attempts); err != nil {
		return fmt.Errorf("forget groups of topic %s: %w", topic, err)
	}
	return nil
}
