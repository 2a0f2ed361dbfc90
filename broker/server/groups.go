package server

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/broker/groups"
	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store"
)

// decodeGroupOp decodes the consumer-group operations, which the
// coordinator runs; its errors are already *protocol.Error.
func (s *Server) decodeGroupOp(op protocol.Op, body []byte) (handlerFunc, error) {
	g := func() *groups.Coordinator { return s.groups }
	switch op {
	case protocol.OpJoinGroup:
		return jsonOp(body, func(_ *conn, r *protocol.JoinGroup) (protocol.Assignment, error) {
			return g().Join(s.hardCtx, *r)
		})
	case protocol.OpHeartbeat:
		return jsonOp(body, func(_ *conn, r *protocol.Heartbeat) (protocol.Assignment, error) {
			return g().Heartbeat(s.hardCtx, *r)
		})
	case protocol.OpLeaveGroup:
		return jsonOp(body, func(_ *conn, r *protocol.LeaveGroup) (protocol.Empty, error) {
			return protocol.Empty{}, g().Leave(s.hardCtx, *r)
		})
	case protocol.OpCommitOffsets:
		return jsonOp(body, func(_ *conn, r *protocol.CommitOffsets) (protocol.Empty, error) {
			return protocol.Empty{}, g().Commit(s.hardCtx, *r)
		})
	case protocol.OpFetchOffsets:
		return jsonOp(body, func(_ *conn, r *protocol.FetchOffsets) (protocol.OffsetsResponse, error) {
			return g().Offsets(*r)
		})
	case protocol.OpResetGroup:
		return jsonOp(body, func(_ *conn, r *protocol.ResetGroup) (protocol.Empty, error) {
			return protocol.Empty{}, g().Reset(s.hardCtx, *r)
		})
	case protocol.OpListGroups:
		return jsonOp(body, func(_ *conn, _ *protocol.Empty) (protocol.ListGroupsResponse, error) {
			return protocol.ListGroupsResponse{Groups: nonNil(g().List())}, nil
		})
	case protocol.OpDescribeGroup:
		return jsonOp(body, func(_ *conn, r *protocol.GroupRef) (protocol.ListGroupsResponse, error) {
			infos, err := g().Describe(r.Group)
			return protocol.ListGroupsResponse{Groups: nonNil(infos)}, err
		})
	}
	return nil, protocol.Errorf(protocol.CodeUnsupported, "operation %s is not supported by this broker", op)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// queuesAdapter answers the coordinator's questions about topics from the
// topic table and the store. A queue of an existing topic that was never
// written holds nothing: [0, 0).
type queuesAdapter struct{ s *Server }

var _ groups.Queues = queuesAdapter{}

func (a queuesAdapter) topic(name string, queue uint32) error {
	tp := a.s.topics.get(name)
	if tp == nil {
		return fmt.Errorf("topic %s: %w", name, groups.ErrUnknownTopic)
	}
	if int(queue) >= tp.queues {
		return fmt.Errorf("topic %s has %d queues, not %d", name, tp.queues, queue+1)
	}
	return nil
}

// NumQueues returns the topic's queue count.
func (a queuesAdapter) NumQueues(topic string) (int, error) {
	tp := a.s.topics.get(topic)
	if tp == nil {
		return 0, fmt.Errorf("topic %s: %w", topic, groups.ErrUnknownTopic)
	}
	return tp.queues, nil
}

// QueueRange returns the offsets a queue holds.
func (a queuesAdapter) QueueRange(topic string, queue uint32) (int64, int64, error) {
	if err := a.topic(topic, queue); err != nil {
		return 0, 0, err
	}
	lo, hi, err := a.s.store.QueueRange(topic, queue)
	if errors.Is(err, store.ErrUnknownQueue) {
		return 0, 0, nil
	}
	return lo, hi, err
}

// OffsetForTime returns the first offset stored at or after ms.
func (a queuesAdapter) OffsetForTime(topic string, queue uint32, ms int64) (int64, error) {
	if err := a.topic(topic, queue); err != nil {
		return 0, err
	}
	off, err := a.s.store.OffsetForTime(topic, queue, ms)
	if errors.Is(err, store.ErrUnknownQueue) {
		return 0, nil
	}
	return off, err
}

// StoredAtMs returns when the message at offset was stored.
func (a queuesAdapter) StoredAtMs(topic string, queue uint32, offset int64) (int64, error) {
	if err := a.topic(topic, queue); err != nil {
		return 0, err
	}
	return a.s.store.StoredAtMs(topic, queue, offset)
}
