package groups

import "github.com/sluicehq/sluice/broker/protocol"

// CheckOwner returns nil if memberID may read queue of topic in group:
// in clustering mode, if the queue is assigned to it now; in broadcasting
// mode, if it is a member. Otherwise it returns CodeUnknownMember or
// CodeFenced.
//
// The server calls it on every fetch that names a member, before reading
// and again before answering a long poll. A member hears of a rebalance
// only at its next heartbeat; without this check it would go on reading a
// queue that was moved away, and deliver what the queue's new owner
// delivers too. A fetch also counts as a sign of life, like a heartbeat.
func (c *Coordinator) CheckOwner(group, topic, memberID string, queue uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, m, err := c.memberLocked(group, topic, memberID)
	if err != nil {
		return err
	}
	m.lastSeen = c.cfg.Now()
	if s.mode == protocol.ModeBroadcasting {
		return nil
	}
	if owner := s.owner[queue]; owner != m.id {
		return protocol.Errorf(protocol.CodeFenced,
			"queue %d of topic %s is not assigned to member %s of group %s in generation %d; heartbeat for the new assignment",
			queue, topic, memberID, group, s.generation)
	}
	return nil
}
