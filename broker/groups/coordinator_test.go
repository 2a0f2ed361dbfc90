package groups

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// owners asks every member for its assignment and returns queue -> member,
// failing if a queue is assigned twice.
func (e *env) owners(members []string) map[uint32]string {
	e.t.Helper()
	owner := map[uint32]string{}
	for _, id := range members {
		for _, p := range e.heartbeat(id).Queues {
			if o, ok := owner[p.Queue]; ok {
				e.t.Fatalf("queue %d assigned to %s and %s", p.Queue, o, id)
			}
			owner[p.Queue] = id
		}
	}
	return owner
}

func TestJoinBalancesOneToFiveMembers(t *testing.T) {
	e := newEnv(t)
	var members []string
	var prev map[uint32]string
	gen := int64(0)
	for i := range 5 {
		a := e.join(protocol.JoinGroup{ClientID: fmt.Sprintf("host%d", i)})
		if !strings.HasPrefix(a.MemberID, fmt.Sprintf("host%d-", i)) {
			t.Fatalf("member id %q does not start with the client id", a.MemberID)
		}
		if a.Generation <= gen {
			t.Fatalf("join %d: generation %d, was %d", i, a.Generation, gen)
		}
		gen = a.Generation
		members = append(members, a.MemberID)
		owner := e.owners(members)
		checkBalanced(t, owner, members, 8)
		if mv := moved(prev, owner); len(mv) != len(queuesOf(owner, a.MemberID)) {
			t.Fatalf("join %d moved %v", i, mv)
		}
		prev = owner
	}
	infos, err := e.c.Describe("g")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || len(infos[0].Members) != 5 || infos[0].Generation != gen {
		t.Fatalf("describe: %+v", infos)
	}
}

func TestJoinWithMemberIDIsIdempotent(t *testing.T) {
	e := newEnv(t)
	a := e.join(protocol.JoinGroup{ClientID: "c"})
	b := e.join(protocol.JoinGroup{ClientID: "c", MemberID: a.MemberID})
	if b.MemberID != a.MemberID || b.Generation != a.Generation || !slices.Equal(b.Queues, a.Queues) {
		t.Fatalf("re-join: %+v, first join %+v", b, a)
	}
	// A member the broker forgot (restart) joins again under its ID.
	e.restart()
	_, err := e.c.Heartbeat(context.Background(), protocol.Heartbeat{Group: "g", Topic: "t", MemberID: a.MemberID})
	wantCode(t, err, protocol.CodeUnknownMember)
	c := e.join(protocol.JoinGroup{MemberID: a.MemberID})
	if c.MemberID != a.MemberID || len(c.Queues) != 8 {
		t.Fatalf("join after restart: %+v", c)
	}
	if c.Generation <= a.Generation {
		t.Fatalf("generation went from %d to %d across a restart", a.Generation, c.Generation)
	}
}

func TestLeaveMovesOnlyLeaversQueues(t *testing.T) {
	e := newEnv(t)
	var members []string
	for range 4 {
		members = append(members, e.join(protocol.JoinGroup{}).MemberID)
	}
	before := e.owners(members)
	leaver := members[2]
	if err := e.c.Leave(context.Background(), protocol.LeaveGroup{Group: "g", Topic: "t", MemberID: leaver}); err != nil {
		t.Fatal(err)
	}
	members = slices.Delete(members, 2, 3)
	after := e.owners(members)
	checkBalanced(t, after, members, 8)
	if mv := moved(before, after); !slices.Equal(mv, queuesOf(before, leaver)) {
		t.Fatalf("leave moved %v, leaver owned %v", mv, queuesOf(before, leaver))
	}
	// Leaving twice is not an error.
	if err := e.c.Leave(context.Background(), protocol.LeaveGroup{Group: "g", Topic: "t", MemberID: leaver}); err != nil {
		t.Fatal(err)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	a := e.join(protocol.JoinGroup{SessionTimeoutMs: 2000})
	b := e.join(protocol.JoinGroup{SessionTimeoutMs: 5000})
	if a.HeartbeatMs != 666 {
		t.Fatalf("heartbeat every %dms for a 2s session", a.HeartbeatMs)
	}
	before := e.owners([]string{a.MemberID, b.MemberID})
	e.clock.Advance(1500 * time.Millisecond)
	e.heartbeat(b.MemberID)
	e.clock.Advance(1000 * time.Millisecond) // a: 2.5s since its last heartbeat, b: 1s
	got := e.heartbeat(b.MemberID)
	if len(got.Queues) != 8 {
		t.Fatalf("b owns %v after a expired", got.Queues)
	}
	after := map[uint32]string{}
	for _, p := range got.Queues {
		after[p.Queue] = b.MemberID
	}
	if mv := moved(before, after); !slices.Equal(mv, queuesOf(before, a.MemberID)) {
		t.Fatalf("expiry moved %v, a owned %v", mv, queuesOf(before, a.MemberID))
	}
	_, err := e.c.Heartbeat(context.Background(), protocol.Heartbeat{Group: "g", Topic: "t", MemberID: a.MemberID})
	wantCode(t, err, protocol.CodeUnknownMember)
	wantCode(t, e.commit(a.MemberID, pos(0, 1)), protocol.CodeUnknownMember)
	if n := e.c.m.expiries.Get(); n != 1 {
		t.Fatalf("%d session expiries counted", n)
	}
}

// TestReaperExpiresIdleMembers checks that the reaper goroutine expires a
// member although no request touches its group.
func TestReaperExpiresIdleMembers(t *testing.T) {
	e := newEnv(t)
	e.join(protocol.JoinGroup{SessionTimeoutMs: 1000})
	e.clock.Advance(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for e.c.m.expiries.Get() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the reaper did not expire the member")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.c.mu.Lock()
	n := len(e.c.subs[subKey{"g", "t"}].members)
	e.c.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d members left", n)
	}
}

func TestJoinRejectsBadRequests(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		r    protocol.JoinGroup
		code protocol.Code
	}{
		{protocol.JoinGroup{Group: "g", Topic: "nope"}, protocol.CodeUnknownTopic},
		{protocol.JoinGroup{Group: "", Topic: "t"}, protocol.CodeBadRequest},
		{protocol.JoinGroup{Group: "a b", Topic: "t"}, protocol.CodeBadRequest},
		{protocol.JoinGroup{Group: "g", Topic: "t", Mode: "fanout"}, protocol.CodeBadRequest},
		{protocol.JoinGroup{Group: "g", Topic: "t", StartFrom: "yesterday"}, protocol.CodeBadRequest},
		{protocol.JoinGroup{Group: "g", Topic: "t", SessionTimeoutMs: 500}, protocol.CodeBadRequest},
		{protocol.JoinGroup{Group: "g", Topic: "t", SessionTimeoutMs: 600_000}, protocol.CodeBadRequest},
		{protocol.JoinGroup{Group: "g", Topic: "t", MemberID: "a\nb"}, protocol.CodeBadRequest},
	} {
		_, err := e.c.Join(context.Background(), tc.r)
		if protocol.CodeOf(err) != tc.code {
			t.Errorf("join %+v: %v, want code %v", tc.r, err, tc.code)
		}
	}
	if infos := e.c.List(); len(infos) != 0 {
		t.Fatalf("rejected joins created groups: %+v", infos)
	}
}

func TestModeCannotChangeWhileMembersLive(t *testing.T) {
	e := newEnv(t)
	a := e.join(protocol.JoinGroup{})
	_, err := e.c.Join(context.Background(), protocol.JoinGroup{Group: "g", Topic: "t", Mode: protocol.ModeBroadcasting})
	wantCode(t, err, protocol.CodeBadRequest)
	if err := e.c.Leave(context.Background(), protocol.LeaveGroup{Group: "g", Topic: "t", MemberID: a.MemberID}); err != nil {
		t.Fatal(err)
	}
	b := e.join(protocol.JoinGroup{Mode: protocol.ModeBroadcasting})
	if len(b.Queues) != 8 {
		t.Fatalf("broadcasting member got %v", b.Queues)
	}
}

func TestBroadcasting(t *testing.T) {
	e := newEnv(t)
	for q := range uint32(8) {
		e.qs.produce("t", q, 10, 1000)
	}
	var ids []string
	for range 3 {
		a := e.join(protocol.JoinGroup{Mode: protocol.ModeBroadcasting, StartFrom: "latest"})
		ids = append(ids, a.MemberID)
		if len(a.Queues) != 8 {
			t.Fatalf("member got %v, want every queue", a.Queues)
		}
		for _, p := range a.Queues {
			if p.Offset != 10 {
				t.Fatalf("latest start at %d, want 10", p.Offset)
			}
		}
	}
	// The broker keeps no progress for broadcasting members.
	if err := e.commit(ids[0], pos(0, 5)); err != nil {
		t.Fatal(err)
	}
	if got := e.offsets(); len(got) != 0 {
		t.Fatalf("broadcasting offsets stored: %v", got)
	}
	for _, id := range ids {
		if a := e.heartbeat(id); len(a.Queues) != 8 {
			t.Fatalf("%s got %v", id, a.Queues)
		}
	}
	infos, err := e.c.Describe("g")
	if err != nil {
		t.Fatal(err)
	}
	if infos[0].Mode != protocol.ModeBroadcasting || len(infos[0].Members) != 3 || len(infos[0].Lag) != 0 {
		t.Fatalf("describe: %+v", infos[0])
	}
	for _, m := range infos[0].Members {
		if len(m.Queues) != 8 {
			t.Fatalf("member %s listed with %v", m.MemberID, m.Queues)
		}
	}
	// A reset makes no sense for a group that keeps no progress.
	for _, id := range ids {
		e.c.Leave(context.Background(), protocol.LeaveGroup{Group: "g", Topic: "t", MemberID: id})
	}
	err = e.c.Reset(context.Background(), protocol.ResetGroup{Group: "g", Topic: "t", To: "earliest"})
	wantCode(t, err, protocol.CodeBadRequest)
}

func TestStartFrom(t *testing.T) {
	e := newEnv(t)
	base := e.clock.Now().UnixMilli()
	for q := range uint32(8) {
		e.qs.produce("t", q, 10, base)
		e.qs.produce("t", q, 10, base+60_000)
	}
	e.qs.trim("t", 0, 4)
	check := func(group, startFrom string, want map[uint32]int64) {
		t.Helper()
		a := e.join(protocol.JoinGroup{Group: group, StartFrom: startFrom})
		if got := positions(a.Queues); !maps.Equal(got, want) {
			t.Fatalf("start_from %q: %v, want %v", startFrom, got, want)
		}
	}
	all := func(off int64) map[uint32]int64 {
		m := map[uint32]int64{}
		for q := range uint32(8) {
			m[q] = off
		}
		return m
	}
	earliest := all(0)
	earliest[0] = 4
	check("e", "", earliest)
	check("e2", "earliest", earliest)
	check("l", "latest", all(20))
	check("tm", time.UnixMilli(base+30_000).UTC().Format(time.RFC3339), all(10))
	check("future", time.UnixMilli(base+3_600_000).UTC().Format(time.RFC3339), all(20))

	// "latest" was pinned: new messages and a restart do not move it.
	for q := range uint32(8) {
		e.qs.produce("t", q, 5, base+120_000)
	}
	e.restart()
	check("l", "latest", all(20))
	// A committed offset wins over start_from and is raised to the queue's
	// minimum once retention removed it.
	a := e.join(protocol.JoinGroup{Group: "e"})
	if len(a.Queues) != 8 {
		t.Fatalf("only member after restart got %v", a.Queues)
	}
	if err := e.c.Commit(context.Background(), protocol.CommitOffsets{Group: "e", Topic: "t",
		MemberID: a.MemberID, Offsets: []protocol.QueuePosition{pos(1, 2), pos(2, 7)}}); err != nil {
		t.Fatal(err)
	}
	e.qs.trim("t", 1, 5)
	want := all(0)
	want[0], want[1], want[2] = 4, 5, 7
	got, err := e.c.Heartbeat(context.Background(), protocol.Heartbeat{Group: "e", Topic: "t", MemberID: a.MemberID})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(positions(got.Queues), want) {
		t.Fatalf("after commit and retention: %v, want %v", positions(got.Queues), want)
	}
}
