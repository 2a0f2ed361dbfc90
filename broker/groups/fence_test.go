package groups

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

func TestCheckOwner(t *testing.T) {
	e := newEnv(t)
	a := e.join(protocol.JoinGroup{ClientID: "a", SessionTimeoutMs: 3000})
	for q := range uint32(8) {
		if err := e.c.CheckOwner("g", "t", a.MemberID, q); err != nil {
			t.Fatalf("sole member on queue %d: %v", q, err)
		}
	}
	b := e.join(protocol.JoinGroup{ClientID: "b"})
	// a has not heartbeated since b joined: it still believes it owns
	// every queue, and is fenced on those that moved.
	moved := b.Queues[0].Queue
	wantCode(t, e.c.CheckOwner("g", "t", a.MemberID, moved), protocol.CodeFenced)
	if err := e.c.CheckOwner("g", "t", b.MemberID, moved); err != nil {
		t.Fatalf("new owner of queue %d: %v", moved, err)
	}
	wantCode(t, e.c.CheckOwner("g", "t", "nobody", 0), protocol.CodeUnknownMember)
	wantCode(t, e.c.CheckOwner("other", "t", a.MemberID, 0), protocol.CodeUnknownMember)

	// Fetching keeps a member alive like heartbeats do.
	kept := e.heartbeat(a.MemberID).Queues[0].Queue
	for range 3 {
		e.clock.Advance(2 * time.Second)
		if err := e.c.CheckOwner("g", "t", a.MemberID, kept); err != nil {
			t.Fatalf("fetching member expired: %v", err)
		}
	}

	// Broadcasting members read every queue.
	e.qs.addTopic("b", 4)
	m := e.join(protocol.JoinGroup{Group: "bc", Topic: "b", Mode: protocol.ModeBroadcasting})
	e.join(protocol.JoinGroup{Group: "bc", Topic: "b", Mode: protocol.ModeBroadcasting})
	for q := range uint32(4) {
		if err := e.c.CheckOwner("bc", "b", m.MemberID, q); err != nil {
			t.Fatalf("broadcasting member on queue %d: %v", q, err)
		}
	}
}
