package server

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/broker/groups"
	"github.com/sluicehq/sluice/broker/protocol"
)

func TestGroupsOverTheWire(t *testing.T) {
	cfg := testConfig(t)
	s := start(t, cfg)
	c := connect(t, s)
	c.createTopic("t", 4)
	for q := range uint32(4) {
		c.mustProduce(batch("t", q, bodies("a", "b", "c")...))
	}

	join := func(cl *client, client string) protocol.Assignment {
		t.Helper()
		var a protocol.Assignment
		if err := cl.callJSON(protocol.OpJoinGroup, protocol.JoinGroup{Group: "g", Topic: "t", ClientID: client}, &a); err != nil {
			t.Fatalf("join %s: %v", client, err)
		}
		return a
	}
	c1, c2 := connect(t, s), connect(t, s)
	a1 := join(c1, "one")
	a2 := join(c2, "two")
	// The first member learns of the rebalance by heartbeat.
	if err := c1.callJSON(protocol.OpHeartbeat, protocol.Heartbeat{Group: "g", Topic: "t", MemberID: a1.MemberID, Generation: a1.Generation}, &a1); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	var all []uint32
	for _, a := range []protocol.Assignment{a1, a2} {
		if len(a.Queues) != 2 {
			t.Fatalf("member %s got %d queues, want 2", a.MemberID, len(a.Queues))
		}
		for _, qp := range a.Queues {
			all = append(all, qp.Queue)
			if qp.Offset != 0 {
				t.Errorf("queue %d starts at %d, want 0 (earliest)", qp.Queue, qp.Offset)
			}
		}
	}
	slices.Sort(all)
	if !slices.Equal(all, []uint32{0, 1, 2, 3}) {
		t.Fatalf("queues %v are not disjoint and complete", all)
	}

	// Commit what member two owns, and read it back.
	var commit []protocol.QueuePosition
	for _, qp := range a2.Queues {
		commit = append(commit, protocol.QueuePosition{Queue: qp.Queue, Offset: 2})
	}
	if err := c2.callJSON(protocol.OpCommitOffsets, protocol.CommitOffsets{Group: "g", Topic: "t",
		MemberID: a2.MemberID, Generation: a2.Generation, Offsets: commit}, nil); err != nil {
		t.Fatalf("commit: %v", err)
	}
	// Member one may not commit them: it does not own them.
	err := c1.callJSON(protocol.OpCommitOffsets, protocol.CommitOffsets{Group: "g", Topic: "t",
		MemberID: a1.MemberID, Generation: a1.Generation, Offsets: commit}, nil)
	wantCode(t, err, protocol.CodeFenced)

	var offs protocol.OffsetsResponse
	if err := c.callJSON(protocol.OpFetchOffsets, protocol.FetchOffsets{Group: "g", Topic: "t"}, &offs); err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	got := map[uint32]int64{}
	for _, qp := range offs.Offsets {
		got[qp.Queue] = qp.Offset
	}
	for _, qp := range commit {
		if got[qp.Queue] != 2 {
			t.Errorf("queue %d committed %d, want 2", qp.Queue, got[qp.Queue])
		}
	}

	// Offsets survive a restart; deleting the topic forgets the group.
	shutdown(t, s)
	s = start(t, cfg)
	c = connect(t, s)
	if err := c.callJSON(protocol.OpFetchOffsets, protocol.FetchOffsets{Group: "g", Topic: "t"}, &offs); err != nil {
		t.Fatalf("fetch offsets after restart: %v", err)
	}
	if len(offs.Offsets) == 0 {
		t.Fatal("no offsets after restart")
	}
	if err := c.callJSON(protocol.OpDeleteTopic, protocol.DeleteTopic{Name: "t"}, nil); err != nil {
		t.Fatal(err)
	}
	err = c.callJSON(protocol.OpDescribeGroup, protocol.GroupRef{Group: "g"}, nil)
	wantCode(t, err, protocol.CodeUnknownGroup)
}

// Group list and describe, with lag, over the wire and over HTTP.
func TestGroupLag(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 4)
	for q := range uint32(4) {
		c.mustProduce(batch("t", q, bodies("a", "b", "c")...))
	}
	var a protocol.Assignment
	if err := c.callJSON(protocol.OpJoinGroup, protocol.JoinGroup{Group: "g", Topic: "t"}, &a); err != nil {
		t.Fatalf("join: %v", err)
	}
	if err := c.callJSON(protocol.OpCommitOffsets, protocol.CommitOffsets{Group: "g", Topic: "t", MemberID: a.MemberID,
		Generation: a.Generation, Offsets: []protocol.QueuePosition{{Queue: 0, Offset: 2}}}, nil); err != nil {
		t.Fatalf("commit: %v", err)
	}
	var desc protocol.ListGroupsResponse
	if err := c.callJSON(protocol.OpDescribeGroup, protocol.GroupRef{Group: "g"}, &desc); err != nil {
		t.Fatalf("describe group: %v", err)
	}
	if len(desc.Groups) != 1 || len(desc.Groups[0].Members) != 1 || desc.Groups[0].TotalLag != 10 {
		t.Fatalf("describe group %+v, want one member and a lag of 10", desc)
	}
	httpJSON(t, s, "GET", "/api/v1/groups/g", "", http.StatusOK, &desc)
	if len(desc.Groups) != 1 || len(desc.Groups[0].Lag) != 4 {
		t.Fatalf("HTTP describe group %+v", desc)
	}
	var list protocol.ListGroupsResponse
	httpJSON(t, s, "GET", "/api/v1/groups", "", http.StatusOK, &list)
	if len(list.Groups) != 1 || list.Groups[0].Group != "g" {
		t.Fatalf("HTTP list groups %+v", list)
	}
	var e apiError
	httpJSON(t, s, "GET", "/api/v1/groups/nope", "", http.StatusNotFound, &e)
	if e.Code != "unknown_group" {
		t.Fatalf("unknown group: %+v", e)
	}
	err := c.callJSON(protocol.OpJoinGroup, protocol.JoinGroup{Group: "g", Topic: "nope"}, nil)
	wantCode(t, err, protocol.CodeUnknownTopic)
}

// The adapter reports a queue of an existing topic that was never written
// as empty, and an unknown topic as groups.ErrUnknownTopic.
func TestQueuesAdapter(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 2)
	c.mustProduce(batch("t", 0, bodies("a", "b")...))
	a := queuesAdapter{s}
	if n, err := a.NumQueues("t"); n != 2 || err != nil {
		t.Fatalf("NumQueues = %d, %v", n, err)
	}
	if _, err := a.NumQueues("nope"); !errors.Is(err, groups.ErrUnknownTopic) {
		t.Fatal("NumQueues of an unknown topic")
	}
	if lo, hi, err := a.QueueRange("t", 1); lo != 0 || hi != 0 || err != nil {
		t.Fatalf("QueueRange of an empty queue = %d, %d, %v", lo, hi, err)
	}
	if lo, hi, err := a.QueueRange("t", 0); lo != 0 || hi != 2 || err != nil {
		t.Fatalf("QueueRange = %d, %d, %v", lo, hi, err)
	}
	if _, _, err := a.QueueRange("t", 2); err == nil {
		t.Fatal("QueueRange of a queue past the count")
	}
	if off, err := a.OffsetForTime("t", 1, 0); off != 0 || err != nil {
		t.Fatalf("OffsetForTime of an empty queue = %d, %v", off, err)
	}
	if ms, err := a.StoredAtMs("t", 0, 1); ms == 0 || err != nil {
		t.Fatalf("StoredAtMs = %d, %v", ms, err)
	}
}
