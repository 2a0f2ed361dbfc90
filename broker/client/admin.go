package client

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/broker/protocol"
)

// CreateTopic creates a topic with queues queues (0: the broker's
// default). An existing topic is an error with protocol.CodeTopicExists.
func (c *Client) CreateTopic(ctx context.Context, name string, queues int) error {
	if queues < 0 {
		return fmt.Errorf("create topic %s: %d queues", name, queues)
	}
	if err := c.control(ctx, protocol.OpCreateTopic, protocol.CreateTopic{Name: name, Queues: queues}, nil); err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return nil
}

// DeleteTopic deletes a topic and its data.
func (c *Client) DeleteTopic(ctx context.Context, name string) error {
	if err := c.control(ctx, protocol.OpDeleteTopic, protocol.DeleteTopic{Name: name}, nil); err != nil {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	return nil
}

// ListTopics lists the topics.
func (c *Client) ListTopics(ctx context.Context) ([]protocol.TopicInfo, error) {
	var resp protocol.ListTopicsResponse
	if err := c.control(ctx, protocol.OpListTopics, protocol.Empty{}, &resp); err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	return resp.Topics, nil
}

// DescribeTopic describes a topic and each of its queues. An unknown topic
// is an error with protocol.CodeUnknownTopic.
func (c *Client) DescribeTopic(ctx context.Context, name string) (protocol.TopicInfo, error) {
	var resp protocol.TopicInfo
	if err := c.control(ctx, protocol.OpDescribeTopic, protocol.TopicRef{Name: name}, &resp); err != nil {
		return resp, fmt.Errorf("describe topic %s: %w", name, err)
	}
	return resp, nil
}

// ListGroups lists the consumer groups, one entry per group and topic.
func (c *Client) ListGroups(ctx context.Context) ([]protocol.GroupInfo, error) {
	var resp protocol.ListGroupsResponse
	if err := c.control(ctx, protocol.OpListGroups, protocol.Empty{}, &resp); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return resp.Groups, nil
}

// DescribeGroup describes a group on each topic it consumes: members,
// their queues, and the lag per queue.
func (c *Client) DescribeGroup(ctx context.Context, group string) ([]protocol.GroupInfo, error) {
	var resp protocol.ListGroupsResponse
	if err := c.control(ctx, protocol.OpDescribeGroup, protocol.GroupRef{Group: group}, &resp); err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	return resp.Groups, nil
}

// ResetGroup moves the committed offsets of a group with no live member
// on topic to "earliest", "latest" or an RFC 3339 time.
func (c *Client) ResetGroup(ctx context.Context, group, topic, to string) error {
	if err := c.control(ctx, protocol.OpResetGroup, protocol.ResetGroup{Group: group, Topic: topic, To: to}, nil); err != nil {
		return fmt.Errorf("reset group %s on topic %s to %s: %w", group, topic, to, err)
	}
	return nil
}

// GroupOffsets returns the offsets a group committed on a topic: for each
// queue, the next offset the group will consume.
func (c *Client) GroupOffsets(ctx context.Context, group, topic string) ([]protocol.QueuePosition, error) {
	var resp protocol.OffsetsResponse
	if err := c.control(ctx, protocol.OpFetchOffsets, protocol.FetchOffsets{Group: group, Topic: topic}, &resp); err != nil {
		return nil, fmt.Errorf("offsets of group %s on topic %s: %w", group, topic, err)
	}
	return resp.Offsets, nil
}

// GetMessage returns the message with this ID. A message the broker does
// not have (any more) is an error with protocol.CodeNotFound.
func (c *Client) GetMessage(ctx context.Context, id string) (Message, error) {
	pos, _, err := protocol.ParseMessageID(id)
	if err != nil {
		return Message{}, err
	}
	var resp protocol.MessagesResponse
	if err := c.control(ctx, protocol.OpGetMessage, protocol.GetMessage{ID: id}, &resp); err != nil {
		return Message{}, fmt.Errorf("get message %s: %w", id, err)
	}
	for _, fm := range resp.Messages {
		m, ok, err := foundMessage(fm, pos)
		if err != nil {
			return Message{}, fmt.Errorf("get message %s: %w", id, err)
		}
		if ok && m.ID == id {
			return m, nil
		}
	}
	return Message{}, fmt.Errorf("get message %s: %w", id,
		protocol.Errorf(protocol.CodeNotFound, "the broker's answer does not hold the message"))
}

// QueryKey returns the messages of topic with key, oldest first, at most
// limit (0: the broker's limit). The broker finds them by key hash; the
// messages of other keys with the same hash are dropped here.
func (c *Client) QueryKey(ctx context.Context, topic, key string, limit int) ([]Message, error) {
	var resp protocol.MessagesResponse
	if err := c.control(ctx, protocol.OpQueryKey, protocol.QueryKey{Topic: topic, Key: key, Limit: limit}, &resp); err != nil {
		return nil, fmt.Errorf("query topic %s for key %q: %w", topic, key, err)
	}
	var out []Message
	for _, fm := range resp.Messages {
		m, ok, err := foundMessage(fm, fm.Pos)
		if err != nil {
			return nil, fmt.Errorf("query topic %s for key %q: %w", topic, key, err)
		}
		if ok && m.Key == key {
			out = append(out, m)
		}
	}
	return out, nil
}

// foundMessage decodes the message at fm.Offset from its record, which the
// broker sent whole so that its CRC is checked here.
func foundMessage(fm protocol.FoundMessage, pos int64) (Message, bool, error) {
	d := recordDecoder{from: fm.Offset}
	err := protocol.EachRecord(fm.Record, func(h *protocol.RecordHeader, payload []byte) error {
		return d.decodeRecord(h, pos, payload)
	})
	if err != nil {
		return Message{}, false, err
	}
	for _, m := range d.out {
		if m.Offset == fm.Offset {
			return m, true, nil
		}
	}
	return Message{}, false, nil
}
