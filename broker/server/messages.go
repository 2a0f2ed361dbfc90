package server

import (
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store"
)

const (
	// defaultKeyLimit and maxKeyLimit bound the messages of a key query.
	defaultKeyLimit = 32
	maxKeyLimit     = 1000
)

// getMessage finds a message by ID: the position of its batch in the
// commit log and its index in the batch.
func (s *Server) getMessage(id string) (protocol.MessagesResponse, error) {
	pos, index, err := protocol.ParseMessageID(id)
	if err != nil {
		return protocol.MessagesResponse{}, protocol.Errorf(protocol.CodeBadRequest, "%v", err)
	}
	m, err := s.readMessage(pos, index)
	if err != nil {
		return protocol.MessagesResponse{}, fmt.Errorf("message %s: %w", id, err)
	}
	return protocol.MessagesResponse{Messages: []protocol.FoundMessage{m}}, nil
}

// readMessage reads the batch at pos and locates message index in it.
func (s *Server) readMessage(pos int64, index uint32) (protocol.FoundMessage, error) {
	b, buf, err := s.store.ReadRecord(pos, nil)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return protocol.FoundMessage{}, protocol.Errorf(protocol.CodeNotFound, "%v", err)
		}
		return protocol.FoundMessage{}, err
	}
	if index >= b.Count {
		return protocol.FoundMessage{}, protocol.Errorf(protocol.CodeNotFound, "the batch at %d holds %d messages, not %d", pos, b.Count, index+1)
	}
	// The records of a deleted topic stay in the log until retention.
	if s.topics.get(b.Topic) == nil {
		return protocol.FoundMessage{}, protocol.Errorf(protocol.CodeNotFound, "topic %s was deleted", b.Topic)
	}
	return protocol.FoundMessage{Topic: b.Topic, Queue: b.Queue, Offset: b.BaseOffset + int64(index),
		Pos: pos, Record: buf[:b.Length]}, nil
}

// queryKey finds the messages of topic whose key hashes like key, newest
// last. Hash collisions are possible: clients compare the keys.
func (s *Server) queryKey(topic, key string, limit int) (protocol.MessagesResponse, error) {
	if s.topics.get(topic) == nil {
		return protocol.MessagesResponse{}, unknownTopic(topic)
	}
	if limit <= 0 {
		limit = defaultKeyLimit
	}
	limit = min(limit, maxKeyLimit)
	hits, err := s.store.LookupKey(topic, key, limit)
	if err != nil {
		return protocol.MessagesResponse{}, fmt.Errorf("look up key in %s: %w", topic, err)
	}
	out := protocol.MessagesResponse{Messages: []protocol.FoundMessage{}}
	for _, h := range hits {
		b, buf, err := s.store.ReadRecord(h.Pos, nil)
		if err != nil {
			continue // removed by retention since, or corrupt (counted by the store)
		}
		out.Messages = append(out.Messages, protocol.FoundMessage{Topic: topic, Queue: h.Queue,
			Offset: h.Offset, Pos: h.Pos, Record: buf[:b.Length]})
	}
	return out, nil
}
