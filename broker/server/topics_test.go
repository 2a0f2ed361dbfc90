package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/broker/protocol"
)

func listTopics(t *testing.T, c *client) map[string]int {
	t.Helper()
	var list protocol.ListTopicsResponse
	if err := c.callJSON(protocol.OpListTopics, protocol.Empty{}, &list); err != nil {
		t.Fatalf("list topics: %v", err)
	}
	out := map[string]int{}
	for _, tp := range list.Topics {
		out[tp.Name] = tp.Queues
	}
	return out
}

func TestTopicsLifecycle(t *testing.T) {
	cfg := testConfig(t)
	cfg.DefaultQueues = 5
	s := start(t, cfg)
	c := connect(t, s)

	c.createTopic("logs", 3)
	c.createTopic("metrics", 0) // the default count
	err := c.callJSON(protocol.OpCreateTopic, protocol.CreateTopic{Name: "logs", Queues: 3}, nil)
	wantCode(t, err, protocol.CodeTopicExists)
	for _, bad := range []protocol.CreateTopic{{Name: "x", Queues: MaxQueues + 1}, {Name: "x", Queues: -1}, {Name: "a/b"}, {Name: ""}} {
		err := c.callJSON(protocol.OpCreateTopic, bad, nil)
		wantCode(t, err, protocol.CodeBadRequest)
	}
	if got := listTopics(t, c); len(got) != 2 || got["logs"] != 3 || got["metrics"] != 5 {
		t.Fatalf("topics %v", got)
	}

	c.mustProduce(batch("logs", 1, bodies("a", "b", "c")...))
	var info protocol.TopicInfo
	if err := c.callJSON(protocol.OpDescribeTopic, protocol.TopicRef{Name: "logs"}, &info); err != nil {
		t.Fatal(err)
	}
	if info.Name != "logs" || info.Queues != 3 || len(info.QueueInfo) != 3 || info.CreatedAt == "" {
		t.Fatalf("describe: %+v", info)
	}
	q1 := info.QueueInfo[1]
	if q1.Queue != 1 || q1.Min != 0 || q1.Max != 3 || q1.Bytes <= 0 || q1.LastSeen == "" {
		t.Fatalf("queue 1: %+v", q1)
	}
	if q0 := info.QueueInfo[0]; q0.Max != 0 || q0.Bytes != 0 || q0.LastSeen != "" {
		t.Fatalf("queue 0: %+v", q0)
	}
	err = c.callJSON(protocol.OpDescribeTopic, protocol.TopicRef{Name: "nope"}, nil)
	wantCode(t, err, protocol.CodeUnknownTopic)

	// The table survives a restart.
	shutdown(t, s)
	s = start(t, cfg)
	c = connect(t, s)
	if got := listTopics(t, c); len(got) != 2 || got["logs"] != 3 {
		t.Fatalf("topics after restart %v", got)
	}

	// Delete: data and metadata go, also across a restart.
	if err := c.callJSON(protocol.OpDeleteTopic, protocol.DeleteTopic{Name: "logs"}, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	err = c.callJSON(protocol.OpDeleteTopic, protocol.DeleteTopic{Name: "logs"}, nil)
	wantCode(t, err, protocol.CodeUnknownTopic)
	_, err = c.fetch(protocol.FetchRequest{Topic: "logs", Queue: 1})
	wantCode(t, err, protocol.CodeUnknownTopic)
	shutdown(t, s)
	s = start(t, cfg)
	c = connect(t, s)
	if got := listTopics(t, c); len(got) != 1 || got["metrics"] != 5 {
		t.Fatalf("topics after delete and restart %v", got)
	}
	// A topic made again under the same name starts empty.
	c.createTopic("logs", 2)
	if r := c.mustProduce(batch("logs", 1, bodies("new")...)); r.BaseOffset != 0 {
		t.Fatalf("recreated topic starts at %d", r.BaseOffset)
	}
}

// A topic the store holds but topics.json lacks (a crash right after the
// first append of an auto-created topic) is adopted at start.
func TestAdoptTopicsFromStore(t *testing.T) {
	cfg := testConfig(t)
	cfg.AutoCreateTopics = true
	cfg.DefaultQueues = 16
	s := start(t, cfg)
	c := connect(t, s)
	c.mustProduce(batch("auto", 12, bodies("x")...))
	shutdown(t, s)

	if err := os.Remove(filepath.Join(cfg.DataDir, "topics.json")); err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueues = 4
	s = start(t, cfg)
	c = connect(t, s)
	if got := listTopics(t, c); got["auto"] != 13 {
		t.Fatalf("adopted topics %v, want auto with 13 queues", got)
	}
	if got := decodeFetch(t, c.mustFetch(protocol.FetchRequest{Topic: "auto", Queue: 12}), 0); len(got) != 1 {
		t.Fatalf("adopted topic holds %d messages", len(got))
	}
}

// A damaged topics.json stops Start with an error naming it, rather than
// losing the topic list.
func TestCorruptTopicsFile(t *testing.T) {
	cfg := testConfig(t)
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "topics.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Start(cfg)
	if err == nil {
		s.Close()
		t.Fatal("Start with a corrupt topics.json succeeded")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{DataDir: "d", Flush: "sometimes"},
		{DataDir: "d", DefaultQueues: MaxQueues + 1},
		{DataDir: "d", MaxFrame: 10},
		{DataDir: "d", MaxInflightBytes: -1},
		{DataDir: "d", DiskFullRatio: 2},
		{DataDir: "d", SessionTimeout: 1},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", cfg)
		}
	}
	ok := Config{DataDir: "d"}
	if err := ok.Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}
