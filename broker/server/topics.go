package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

// topic is one topic's metadata.
type topic struct {
	name      string
	queues    int
	createdAt time.Time

	// appendMu is held shared by every produce while it appends and
	// exclusively by DeleteTopic, so that no append recreates the queues
	// of a topic being deleted.
	appendMu sync.RWMutex
	deleted  bool // guarded by appendMu
}

// topicTable is the list of topics, persisted in topics.json.
//
//	{"version": 1, "topics": [{"name": "logs", "queues": 8, "created_at": "2024-..."}]}
type topicTable struct {
	fs   vfs.FS
	path string

	mu     sync.RWMutex // guards topics; held across writes of the file
	topics map[string]*topic
}

type topicFile struct {
	Version int              `json:"version"`
	Topics  []topicFileEntry `json:"topics"`
}

type topicFileEntry struct {
	Name      string    `json:"name"`
	Queues    int       `json:"queues"`
	CreatedAt time.Time `json:"created_at"`
}

const topicFileVersion = 1

// openTopics loads the topic table; a missing file is an empty table.
func openTopics(fs vfs.FS, path string) (*topicTable, error) {
	t := &topicTable{fs: fs, path: path, topics: map[string]*topic{}}
	b, err := vfs.ReadFile(fs, path)
	if errors.Is(err, os.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read topics: %w", err)
	}
	var f topicFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read topics %s: %w", path, err)
	}
	if f.Version != topicFileVersion {
		return nil, fmt.Errorf("read topics %s: version %d, this broker knows %d", path, f.Version, topicFileVersion)
	}
	for _, e := range f.Topics {
		if err := store.ValidTopic(e.Name); err != nil || e.Queues < 1 || e.Queues > MaxQueues {
			return nil, fmt.Errorf("read topics %s: bad entry %q with %d queues", path, e.Name, e.Queues)
		}
		t.topics[e.Name] = &topic{name: e.Name, queues: e.Queues, createdAt: e.CreatedAt}
	}
	return t, nil
}

// writeLocked persists the table; t.mu is held for writing.
func (t *topicTable) writeLocked() error {
	f := topicFile{Version: topicFileVersion, Topics: make([]topicFileEntry, 0, len(t.topics))}
	for _, tp := range t.topics {
		f.Topics = append(f.Topics, topicFileEntry{Name: tp.name, Queues: tp.queues, CreatedAt: tp.createdAt})
	}
	slices.SortFunc(f.Topics, func(a, b topicFileEntry) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return err
	}
	if err := vfs.WriteFileAtomic(t.fs, t.path, append(b, '\n')); err != nil {
		return fmt.Errorf("write topics %s: %w", t.path, err)
	}
	return nil
}

// get returns a topic, or nil.
func (t *topicTable) get(name string) *topic {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.topics[name]
}

// all returns the topics sorted by name.
func (t *topicTable) all() []*topic {
	t.mu.RLock()
	out := make([]*topic, 0, len(t.topics))
	for _, tp := range t.topics {
		out = append(out, tp)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b *topic) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	return out
}

// create adds a topic and persists the table. With existsOK an existing
// topic is returned instead of CodeTopicExists.
func (t *topicTable) create(name string, queues int, existsOK bool) (*topic, error) {
	if err := store.ValidTopic(name); err != nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "%v", err)
	}
	if queues < 1 || queues > MaxQueues {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "topic %s: %d queues, want 1 to %d", name, queues, MaxQueues)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tp := t.topics[name]; tp != nil {
		if existsOK {
			return tp, nil
		}
		return nil, protocol.Errorf(protocol.CodeTopicExists, "topic %s exists", name)
	}
	tp := &topic{name: name, queues: queues, createdAt: time.Now().UTC().Truncate(time.Millisecond)}
	t.topics[name] = tp
	if err := t.writeLocked(); err != nil {
		delete(t.topics, name)
		return nil, err
	}
	return tp, nil
}

// remove forgets a topic and persists the table.
func (t *topicTable) remove(tp *topic) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.topics[tp.name] != tp {
		return nil
	}
	delete(t.topics, tp.name)
	if err := t.writeLocked(); err != nil {
		t.topics[tp.name] = tp
		return err
	}
	return nil
}

// adoptTopics adds the topics the store holds but the table lacks (a crash
// between the first append of an auto-created topic and the write of the
// table), and widens a topic whose store has a higher queue.
func (s *Server) adoptTopics() error {
	highest := map[string]uint32{}
	for _, q := range s.store.Queues() {
		highest[q.Topic] = max(highest[q.Topic], q.Queue)
	}
	t := s.topics
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := false
	for name, hq := range highest {
		n := max(s.cfg.DefaultQueues, int(hq)+1)
		tp := t.topics[name]
		switch {
		case tp == nil:
			s.lg.Warn("adopting topic found in the store but not in topics.json", "topic", name, "queues", n)
			t.topics[name] = &topic{name: name, queues: n, createdAt: time.Now().UTC().Truncate(time.Millisecond)}
			changed = true
		case tp.queues <= int(hq):
			s.lg.Warn("widening topic to the queues found in the store", "topic", name, "queues", int(hq)+1)
			tp.queues = int(hq) + 1
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return t.writeLocked()
}

// topicForProduce returns the topic a produce goes to, creating it when
// auto-creation is on, with its appendMu held shared.
func (s *Server) topicForProduce(name string) (*topic, error) {
	for range 3 {
		tp := s.topics.get(name)
		if tp == nil {
			if !s.cfg.AutoCreateTopics {
				return nil, unknownTopic(name)
			}
			var err error
			if tp, err = s.topics.create(name, s.cfg.DefaultQueues, true); err != nil {
				return nil, err
			}
			s.lg.Info("topic created on first produce", "topic", name, "queues", tp.queues)
		}
		tp.appendMu.RLock()
		if !tp.deleted {
			return tp, nil
		}
		tp.appendMu.RUnlock()
	}
	return nil, unknownTopic(name)
}

func unknownTopic(name string) *protocol.Error {
	return protocol.Errorf(protocol.CodeUnknownTopic, "topic %s does not exist", name)
}

// createTopic creates a topic; queues 0 means DefaultQueues.
func (s *Server) createTopic(name string, queues int) (protocol.TopicInfo, error) {
	if queues == 0 {
		queues = s.cfg.DefaultQueues
	}
	tp, err := s.topics.create(name, queues, false)
	if err != nil {
		return protocol.TopicInfo{}, err
	}
	s.lg.Info("topic created", "topic", name, "queues", queues)
	return topicInfo(tp, nil), nil
}

// deleteTopic removes a topic: its queues in the store, its consumer
// groups, its idempotency state and its metadata. Produces to it wait
// while it goes and then fail with CodeUnknownTopic (or create it anew).
func (s *Server) deleteTopic(name string) error {
	tp := s.topics.get(name)
	if tp == nil {
		return unknownTopic(name)
	}
	tp.appendMu.Lock()
	defer tp.appendMu.Unlock()
	if tp.deleted {
		return unknownTopic(name)
	}
	// The store goes first: a crash after it leaves an empty topic in the
	// table, which can be deleted again, rather than data without a topic,
	// which Start would adopt back.
	if err := s.store.DeleteTopic(name); err != nil && !errors.Is(err, store.ErrUnknownQueue) {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	if err := s.groups.DeleteTopic(name); err != nil {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	if err := s.topics.remove(tp); err != nil {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	tp.deleted = true
	s.dedup.forgetTopic(name)
	s.notify.forgetTopic(name)
	s.lg.Info("topic deleted", "topic", name)
	return nil
}

func (s *Server) listTopics() protocol.ListTopicsResponse {
	out := protocol.ListTopicsResponse{Topics: []protocol.TopicInfo{}}
	for _, tp := range s.topics.all() {
		out.Topics = append(out.Topics, topicInfo(tp, nil))
	}
	return out
}

// describeTopic adds the state of each queue. Bytes are estimated: the
// store does not track the size of a queue, so it is the queue's message
// count times the mean message size of its newest batch.
func (s *Server) describeTopic(name string) (protocol.TopicInfo, error) {
	tp := s.topics.get(name)
	if tp == nil {
		return protocol.TopicInfo{}, unknownTopic(name)
	}
	qs := make([]protocol.QueueInfo, tp.queues)
	for i := range qs {
		qs[i].Queue = uint32(i)
	}
	for _, q := range s.store.Queues() {
		if q.Topic != name || int(q.Queue) >= len(qs) {
			continue
		}
		qi := &qs[q.Queue]
		qi.Min, qi.Max = q.Min, q.Next
		if q.LastStoredMs > 0 {
			qi.LastSeen = formatMs(q.LastStoredMs)
		}
		qi.Bytes = s.estimateBytes(q)
	}
	return topicInfo(tp, qs), nil
}

// estimateBytes estimates the bytes a queue holds from its newest batch.
func (s *Server) estimateBytes(q store.QueueInfo) int64 {
	if q.Next <= q.Min {
		return 0
	}
	res, err := s.store.Read(q.Topic, q.Queue, q.Next-1, store.ReadOptions{MaxBatches: 1})
	if err != nil || len(res.Batches) == 0 || res.Batches[0].Count == 0 {
		return 0
	}
	b := res.Batches[0]
	return (q.Next - q.Min) * int64(b.Length) / int64(b.Count)
}

func topicInfo(tp *topic, qs []protocol.QueueInfo) protocol.TopicInfo {
	info := protocol.TopicInfo{Name: tp.name, Queues: tp.queues, QueueInfo: qs}
	if !tp.createdAt.IsZero() {
		info.CreatedAt = tp.createdAt.Format(timeFormat)
	}
	return info
}

// timeFormat is RFC 3339 with milliseconds, as DESIGN.md asks of JSON.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatMs(ms int64) string { return time.UnixMilli(ms).UTC().Format(timeFormat) }
