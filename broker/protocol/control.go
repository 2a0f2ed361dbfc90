package protocol

import (
	"encoding/json"
	"fmt"
)

// The control operations have JSON bodies: they are rare, and JSON lets
// fields be added without breaking older peers.

// Hello opens a connection.
type Hello struct {
	Version    int    `json:"version"`
	ClientName string `json:"client_name"`
	// ClientID identifies the process, for logs and group membership.
	ClientID string `json:"client_id,omitempty"`
	// Credentials is reserved for authentication (token, user/password).
	Credentials map[string]string `json:"credentials,omitempty"`
}

// HelloResponse answers Hello.
type HelloResponse struct {
	Version  int    `json:"version"`
	BrokerID string `json:"broker_id"`
	MaxFrame int    `json:"max_frame"`
	// AutoCreateTopics says whether producers may create the topics they
	// send to, so that clients follow the broker's auto_create_topics.
	AutoCreateTopics bool `json:"auto_create_topics"`
}

// CreateTopic creates a topic with Queues queues (0: the broker default).
type CreateTopic struct {
	Name   string `json:"name"`
	Queues int    `json:"queues,omitempty"`
}

// DeleteTopic deletes a topic and its data.
type DeleteTopic struct {
	Name string `json:"name"`
}

// TopicRef names a topic.
type TopicRef struct {
	Name string `json:"name"`
}

// TopicInfo describes a topic.
type TopicInfo struct {
	Name      string      `json:"name"`
	Queues    int         `json:"queues"`
	CreatedAt string      `json:"created_at,omitempty"`
	QueueInfo []QueueInfo `json:"queue_info,omitempty"`
}

// QueueInfo describes one queue of a topic.
type QueueInfo struct {
	Queue    uint32 `json:"queue"`
	Min      int64  `json:"min_offset"`
	Max      int64  `json:"max_offset"` // the next offset to be written
	Bytes    int64  `json:"bytes"`
	LastSeen string `json:"last_stored_at,omitempty"`
}

// ListTopicsResponse lists topics.
type ListTopicsResponse struct {
	Topics []TopicInfo `json:"topics"`
}

// Group modes.
const (
	ModeClustering   = "clustering"
	ModeBroadcasting = "broadcasting"
)

// JoinGroup makes a consumer a member of a group on a topic.
type JoinGroup struct {
	Group string `json:"group"`
	Topic string `json:"topic"`
	// MemberID is empty on the first join; the broker assigns one.
	MemberID         string `json:"member_id,omitempty"`
	ClientID         string `json:"client_id,omitempty"`
	Mode             string `json:"mode,omitempty"`
	SessionTimeoutMs int64  `json:"session_timeout_ms,omitempty"`
	// StartFrom applies when the group has no committed offset for a
	// queue: "earliest", "latest" or an RFC 3339 time.
	StartFrom string `json:"start_from,omitempty"`
	// Tags is the subscription's filter expression, kept with the group.
	Tags string `json:"tags,omitempty"`
}

// Assignment is what a member consumes: queues and where to start.
type Assignment struct {
	MemberID   string          `json:"member_id"`
	Generation int64           `json:"generation"`
	Queues     []QueuePosition `json:"queues"`
	// HeartbeatMs is how often the member must heartbeat.
	HeartbeatMs int64 `json:"heartbeat_ms"`
}

// QueuePosition is a queue and an offset in it.
type QueuePosition struct {
	Queue  uint32 `json:"queue"`
	Offset int64  `json:"offset"`
}

// Heartbeat keeps a member alive and learns about re-assignments.
type Heartbeat struct {
	Group      string `json:"group"`
	Topic      string `json:"topic"`
	MemberID   string `json:"member_id"`
	Generation int64  `json:"generation"`
}

// LeaveGroup removes a member at once, without waiting for its session
// to time out.
type LeaveGroup struct {
	Group    string `json:"group"`
	Topic    string `json:"topic"`
	MemberID string `json:"member_id"`
}

// CommitOffsets stores a member's progress: Offset is the next offset to
// consume. The broker rejects it with CodeFenced if the member no longer
// owns the queue in Generation.
type CommitOffsets struct {
	Group      string          `json:"group"`
	Topic      string          `json:"topic"`
	MemberID   string          `json:"member_id,omitempty"`
	Generation int64           `json:"generation,omitempty"`
	Offsets    []QueuePosition `json:"offsets"`
}

// FetchOffsets asks for a group's committed offsets on a topic.
type FetchOffsets struct {
	Group string `json:"group"`
	Topic string `json:"topic"`
}

// OffsetsResponse lists committed offsets.
type OffsetsResponse struct {
	Offsets []QueuePosition `json:"offsets"`
}

// ResetGroup moves a group with no live members to earliest, latest or a
// time (RFC 3339).
type ResetGroup struct {
	Group string `json:"group"`
	Topic string `json:"topic"`
	To    string `json:"to"`
}

// GroupRef names a group.
type GroupRef struct {
	Group string `json:"group"`
}

// GroupInfo describes a group.
type GroupInfo struct {
	Group      string       `json:"group"`
	Topic      string       `json:"topic"`
	Mode       string       `json:"mode"`
	Generation int64        `json:"generation"`
	Members    []MemberInfo `json:"members"`
	Lag        []QueueLag   `json:"lag,omitempty"`
	TotalLag   int64        `json:"total_lag"`
}

// MemberInfo describes a member of a group.
type MemberInfo struct {
	MemberID string   `json:"member_id"`
	ClientID string   `json:"client_id,omitempty"`
	Queues   []uint32 `json:"queues"`
}

// QueueLag is a group's progress on one queue.
type QueueLag struct {
	Queue     uint32 `json:"queue"`
	Committed int64  `json:"committed"`
	Max       int64  `json:"max_offset"`
	Lag       int64  `json:"lag"`
	// OldestAgeMs is how long the oldest unconsumed message has waited.
	OldestAgeMs int64  `json:"oldest_age_ms"`
	Owner       string `json:"owner,omitempty"`
}

// ListGroupsResponse lists groups.
type ListGroupsResponse struct {
	Groups []GroupInfo `json:"groups"`
}

// GetMessage fetches one message by ID.
type GetMessage struct {
	ID string `json:"id"`
}

// QueryKey finds the messages of a topic with a key.
type QueryKey struct {
	Topic string `json:"topic"`
	Key   string `json:"key"`
	Limit int    `json:"limit,omitempty"`
}

// MessagesResponse returns messages found by ID or key, as whole records
// (each holds the message's batch; Offsets says which messages matched).
type MessagesResponse struct {
	Messages []FoundMessage `json:"messages"`
}

// FoundMessage locates one message and carries its batch.
type FoundMessage struct {
	Topic  string `json:"topic"`
	Queue  uint32 `json:"queue"`
	Offset int64  `json:"offset"`
	// Pos is the record's log position, from which the message ID is made
	// (MessageID(Pos, Offset-BaseOffset)).
	Pos    int64  `json:"pos"`
	Record []byte `json:"record"` // the whole encoded record, CRC included
}

// Empty is the body of responses that carry nothing.
type Empty struct{}

// MarshalJSON encodes a control body.
func MarshalJSON(v any) ([]byte, error) { return json.Marshal(v) }

// UnmarshalJSON decodes a control body into v. Frames are bounded, so the
// decoder never sees more than the frame limit.
func UnmarshalJSON(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadBody, err)
	}
	return nil
}
