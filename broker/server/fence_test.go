package server

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// TestFetchFencing checks that a member reading a queue that moved to
// another member is refused, also when its long poll started while it
// still owned the queue.
func TestFetchFencing(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 2)
	c1, c2 := connect(t, s), connect(t, s)
	var a1, a2 protocol.Assignment
	if err := c1.callJSON(protocol.OpJoinGroup, protocol.JoinGroup{Group: "g", Topic: "t", ClientID: "one"}, &a1); err != nil {
		t.Fatal(err)
	}
	// Member one owns both queues: it long-polls queue 1, still empty.
	poll := c1.send(protocol.OpFetch, (&protocol.FetchRequest{Topic: "t", Queue: 1, MaxWaitMs: 5000,
		Group: "g", MemberID: a1.MemberID}).Append(nil))
	time.Sleep(50 * time.Millisecond) // let the poll start waiting
	if err := c2.callJSON(protocol.OpJoinGroup, protocol.JoinGroup{Group: "g", Topic: "t", ClientID: "two"}, &a2); err != nil {
		t.Fatal(err)
	}
	if len(a2.Queues) != 1 {
		t.Fatalf("second member got %v, want one queue", a2.Queues)
	}
	moved := a2.Queues[0].Queue
	kept := 1 - moved
	c.mustProduce(batch("t", 1, bodies("x")...))

	h, _, err := c1.read()
	if h.RequestID != poll {
		t.Fatalf("long poll answer: %+v %v", h, err)
	}
	if moved == 1 {
		// The poll outlived its member's ownership: no data for it.
		wantCode(t, err, protocol.CodeFenced)
	} else if err != nil {
		t.Fatalf("owner's long poll failed: %v", err)
	}
	// Plain fetches: the new owner reads, the old one is fenced, a fetch
	// without a member is not checked, an unknown member is refused.
	_, err = c1.fetch(protocol.FetchRequest{Topic: "t", Queue: moved, Group: "g", MemberID: a1.MemberID})
	wantCode(t, err, protocol.CodeFenced)
	c2.mustFetch(protocol.FetchRequest{Topic: "t", Queue: moved, Group: "g", MemberID: a2.MemberID})
	c1.mustFetch(protocol.FetchRequest{Topic: "t", Queue: kept, Group: "g", MemberID: a1.MemberID})
	c1.mustFetch(protocol.FetchRequest{Topic: "t", Queue: moved})
	_, err = c1.fetch(protocol.FetchRequest{Topic: "t", Queue: 0, Group: "g", MemberID: "stranger"})
	wantCode(t, err, protocol.CodeUnknownMember)
}
