package groups

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

func TestFencing(t *testing.T) {
	e := newEnv(t)
	a := e.join(protocol.JoinGroup{ClientID: "a"})
	if err := e.commit(a.MemberID, pos(0, 3), pos(5, 9)); err != nil {
		t.Fatal(err)
	}
	b := e.join(protocol.JoinGroup{ClientID: "b"})
	aNow := e.heartbeat(a.MemberID)
	mine, lost := aNow.Queues[0].Queue, b.Queues[0].Queue

	// a commits a queue that moved to b: the whole request is rejected.
	err := e.commit(a.MemberID, pos(mine, 4), pos(lost, 4))
	wantCode(t, err, protocol.CodeFenced)
	if !strings.Contains(err.Error(), "queue ") {
		t.Fatalf("fenced error does not name the queue: %v", err)
	}
	if got := e.offsets(); got[mine] == 4 || got[lost] == 4 {
		t.Fatalf("a fenced request changed offsets: %v", got)
	}
	if n := e.c.m.fencedCommits.Get(); n != 1 {
		t.Fatalf("%d fenced commits counted", n)
	}

	// The owner's commit is accepted even with the generation of before
	// the rebalance, and a lower offset is stored as-is.
	err = e.c.Commit(context.Background(), protocol.CommitOffsets{Group: "g", Topic: "t",
		MemberID: a.MemberID, Generation: a.Generation, Offsets: []protocol.QueuePosition{pos(mine, 2)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.offsets()[mine]; got != 2 {
		t.Fatalf("queue %d at %d, want 2", mine, got)
	}

	wantCode(t, e.commit("stranger", pos(mine, 1)), protocol.CodeUnknownMember)
	wantCode(t, e.commit("", pos(mine, 1)), protocol.CodeGroupActive)
	wantCode(t, e.commit(a.MemberID, pos(mine, -1)), protocol.CodeBadRequest)
	wantCode(t, e.commit(a.MemberID, pos(8, 1)), protocol.CodeBadRequest)
	err = e.c.Commit(context.Background(), protocol.CommitOffsets{Group: "nope", Topic: "t", MemberID: a.MemberID})
	wantCode(t, err, protocol.CodeUnknownGroup)

	// With no live members, an administrator may commit.
	for _, id := range []string{a.MemberID, b.MemberID} {
		if err := e.c.Leave(context.Background(), protocol.LeaveGroup{Group: "g", Topic: "t", MemberID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.commit("", pos(lost, 11)); err != nil {
		t.Fatal(err)
	}
	if got := e.offsets()[lost]; got != 11 {
		t.Fatalf("admin commit: queue %d at %d", lost, got)
	}
}

func TestCommitIsDurableWhenItReturns(t *testing.T) {
	e := newEnv(t)
	a := e.join(protocol.JoinGroup{})
	for i := range int64(20) {
		q := uint32(i % 8)
		if err := e.commit(a.MemberID, pos(q, i)); err != nil {
			t.Fatal(err)
		}
		if got := e.fileOffsets()[q]; got != i {
			t.Fatalf("commit %d returned, file holds %d for queue %d", i, got, q)
		}
	}
	// Committing what is already stored still succeeds.
	if err := e.commit(a.MemberID, pos(3, 19)); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentCommitsShareWrites holds the first state write in its fsync
// until every committer has applied its commit; one more write must then
// cover them all.
func TestConcurrentCommitsShareWrites(t *testing.T) {
	e := newEnv(t)
	ffs := vfs.NewFaultFS(vfs.Default)
	e.fs = ffs
	e.restart()
	a := e.join(protocol.JoinGroup{})

	const committers = 100
	release := make(chan struct{})
	var held atomic.Bool
	ffs.Inject(func(op vfs.Op, name string) error {
		if op == vfs.OpSync && held.CompareAndSwap(false, true) {
			<-release
		}
		return nil
	})
	e.c.mu.Lock()
	base := e.c.dirtySeq
	e.c.mu.Unlock()
	writesBefore := e.c.m.stateWrites.Get()

	var wg sync.WaitGroup
	errs := make(chan error, committers)
	for i := range committers {
		wg.Go(func() {
			errs <- e.commit(a.MemberID, pos(uint32(i%8), int64(1000+i)))
		})
	}
	for {
		e.c.mu.Lock()
		n := e.c.dirtySeq - base
		e.c.mu.Unlock()
		if n == committers {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	writes := e.c.m.stateWrites.Get() - writesBefore
	if writes < 1 || writes > 3 {
		t.Fatalf("%d commits took %d state writes, want at most 3", committers, writes)
	}
	if got, want := e.fileOffsets(), e.offsets(); !maps.Equal(got, want) {
		t.Fatalf("file %v, memory %v", got, want)
	}
	t.Logf("%d concurrent commits, %d writes", committers, writes)
}

func TestCommitFailsWhenStateCannotBeWritten(t *testing.T) {
	e := newEnv(t)
	ffs := vfs.NewFaultFS(vfs.Default)
	e.fs = ffs
	e.restart()
	a := e.join(protocol.JoinGroup{})

	errDisk := errors.New("injected I/O error")
	ffs.Inject(func(op vfs.Op, name string) error {
		if op == vfs.OpRename {
			return errDisk
		}
		return nil
	})
	err := e.commit(a.MemberID, pos(0, 42))
	wantCode(t, err, protocol.CodeStoreFailed)
	if !errors.Is(err, errDisk) {
		t.Fatalf("commit error %v does not wrap the disk error", err)
	}
	if got := e.fileOffsets()[0]; got == 42 {
		t.Fatal("the failed write reached the file")
	}
	// Once the disk recovers, the client's retry succeeds and is durable.
	ffs.Inject(nil)
	if err := e.commit(a.MemberID, pos(0, 42)); err != nil {
		t.Fatal(err)
	}
	if got := e.fileOffsets()[0]; got != 42 {
		t.Fatalf("file holds %d after the retry", got)
	}
	if e.c.m.stateWriteErrors.Get() == 0 {
		t.Fatal("no write error counted")
	}
}

func TestReset(t *testing.T) {
	e := newEnv(t)
	base := e.clock.Now().UnixMilli()
	for q := range uint32(8) {
		e.qs.produce("t", q, 10, base)
		e.qs.produce("t", q, 10, base+60_000)
	}
	e.qs.trim("t", 7, 3)
	a := e.join(protocol.JoinGroup{})
	reset := func(to string) error {
		return e.c.Reset(context.Background(), protocol.ResetGroup{Group: "g", Topic: "t", To: to})
	}
	wantCode(t, reset("earliest"), protocol.CodeGroupActive)
	wantCode(t, e.c.Reset(context.Background(), protocol.ResetGroup{Group: "x", Topic: "t", To: "latest"}),
		protocol.CodeUnknownGroup)
	if err := e.c.Leave(context.Background(), protocol.LeaveGroup{Group: "g", Topic: "t", MemberID: a.MemberID}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, reset(""), protocol.CodeBadRequest)
	wantCode(t, reset("soon"), protocol.CodeBadRequest)

	all := func(off int64) map[uint32]int64 {
		m := map[uint32]int64{}
		for q := range uint32(8) {
			m[q] = off
		}
		return m
	}
	for _, tc := range []struct {
		to   string
		want map[uint32]int64
	}{
		{"latest", all(20)},
		{"earliest", func() map[uint32]int64 { m := all(0); m[7] = 3; return m }()},
		{time.UnixMilli(base + 1).UTC().Format(time.RFC3339Nano), func() map[uint32]int64 { m := all(10); return m }()},
	} {
		if err := reset(tc.to); err != nil {
			t.Fatalf("reset to %s: %v", tc.to, err)
		}
		if got := e.offsets(); !maps.Equal(got, tc.want) {
			t.Fatalf("reset to %s: %v, want %v", tc.to, got, tc.want)
		}
		if got := e.fileOffsets(); !maps.Equal(got, tc.want) {
			t.Fatalf("reset to %s: file holds %v", tc.to, got)
		}
	}
	// A member joining now starts where the reset put the group.
	if got := positions(e.join(protocol.JoinGroup{}).Queues); !maps.Equal(got, all(10)) {
		t.Fatalf("join after reset: %v", got)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.qs.addTopic("u", 2)
	a := e.join(protocol.JoinGroup{Tags: "error || warn"})
	e.join(protocol.JoinGroup{Group: "b", Mode: protocol.ModeBroadcasting})
	e.join(protocol.JoinGroup{Topic: "u", StartFrom: "latest"})
	if err := e.commit(a.MemberID, pos(0, 5), pos(7, 9)); err != nil {
		t.Fatal(err)
	}
	gen := e.heartbeat(a.MemberID).Generation
	e.restart()

	if got, want := e.offsets(), map[uint32]int64{0: 5, 7: 9}; !maps.Equal(got, want) {
		t.Fatalf("offsets after restart: %v, want %v", got, want)
	}
	infos := e.c.List()
	if len(infos) != 3 {
		t.Fatalf("list after restart: %+v", infos)
	}
	if g := infos[1]; g.Group != "g" || g.Topic != "t" || g.Mode != protocol.ModeClustering ||
		g.Generation != gen || len(g.Members) != 0 {
		t.Fatalf("g/t after restart: %+v", g)
	}
	if g := infos[0]; g.Group != "b" || g.Mode != protocol.ModeBroadcasting {
		t.Fatalf("b/t after restart: %+v", g)
	}
	e.c.mu.Lock()
	s := e.c.subs[subKey{"g", "t"}]
	tags, gu := s.tags, e.c.subs[subKey{"g", "u"}]
	e.c.mu.Unlock()
	if tags != "error || warn" || gu == nil || gu.startFrom != "latest" {
		t.Fatalf("subscription details lost: tags %q, g/u %+v", tags, gu)
	}
}

func TestOpenRejectsCorruptState(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"garbage", "{\"version\": 1, \"subscr", "unexpected end"},
		{"not json", "\x00\x01binary", "invalid character"},
		{"version", `{"version": 2, "subscriptions": []}`, "version 2"},
		{"no version", `{"subscriptions": []}`, "version 0"},
		{"mode", `{"version": 1, "subscriptions": [{"group": "g", "topic": "t", "mode": "x"}]}`, `mode "x"`},
		{"name", `{"version": 1, "subscriptions": [{"group": "a/b", "topic": "t", "mode": "clustering"}]}`, "invalid group name"},
		{"offset", `{"version": 1, "subscriptions": [{"group": "g", "topic": "t", "mode": "clustering",
			"offsets": [{"queue": 0, "offset": -4}]}]}`, "negative offset"},
		{"twice", `{"version": 1, "subscriptions": [{"group": "g", "topic": "t", "mode": "clustering"},
			{"group": "g", "topic": "t", "mode": "clustering"}]}`, "twice"},
		{"start", `{"version": 1, "subscriptions": [{"group": "g", "topic": "t", "mode": "clustering",
			"start_from": "never"}]}`, "start_from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, stateFileName)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Open(Config{Dir: dir, Queues: newFakeQueues()})
			if err == nil {
				c.Close()
				t.Fatal("Open accepted a corrupt state file")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s and say %q", err, path, tc.want)
			}
		})
	}
}

func TestOpenIgnoresInterruptedWrite(t *testing.T) {
	e := newEnv(t)
	a := e.join(protocol.JoinGroup{})
	if err := e.commit(a.MemberID, pos(1, 8)); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(e.dir, stateFileName+".tmp")
	if err := os.WriteFile(tmp, []byte("{\"version\": 1, \"subs"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.open()
	if got := e.offsets()[1]; got != 8 {
		t.Fatalf("offset %d after an interrupted write", got)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("leftover temporary file: %v", err)
	}
}

func TestDeleteTopic(t *testing.T) {
	e := newEnv(t)
	e.qs.addTopic("u", 2)
	a := e.join(protocol.JoinGroup{})
	e.join(protocol.JoinGroup{Topic: "u"})
	if err := e.commit(a.MemberID, pos(0, 1)); err != nil {
		t.Fatal(err)
	}
	e.qs.deleteTopic("t")
	if err := e.c.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	if e.fileOffsets() != nil {
		t.Fatal("the state file still holds the deleted topic's group")
	}
	_, err := e.c.Heartbeat(context.Background(), protocol.Heartbeat{Group: "g", Topic: "t", MemberID: a.MemberID})
	wantCode(t, err, protocol.CodeUnknownMember)
	_, err = e.c.Join(context.Background(), protocol.JoinGroup{Group: "g", Topic: "t", MemberID: a.MemberID})
	wantCode(t, err, protocol.CodeUnknownTopic)
	infos, err := e.c.Describe("g")
	if err != nil || len(infos) != 1 || infos[0].Topic != "u" {
		t.Fatalf("describe after delete: %+v, %v", infos, err)
	}
	if err := e.c.DeleteTopic("never"); err != nil {
		t.Fatal(err)
	}
}

func TestClosedCoordinator(t *testing.T) {
	e := newEnv(t)
	a := e.join(protocol.JoinGroup{})
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	ctx := context.Background()
	_, err := e.c.Join(ctx, protocol.JoinGroup{Group: "g", Topic: "t"})
	wantCode(t, err, protocol.CodeShuttingDown)
	_, err = e.c.Heartbeat(ctx, protocol.Heartbeat{Group: "g", Topic: "t", MemberID: a.MemberID})
	wantCode(t, err, protocol.CodeShuttingDown)
	wantCode(t, e.commit(a.MemberID, pos(0, 1)), protocol.CodeShuttingDown)
	wantCode(t, e.c.Reset(ctx, protocol.ResetGroup{Group: "g", Topic: "t", To: "latest"}), protocol.CodeShuttingDown)
	wantCode(t, e.c.DeleteTopic("t"), protocol.CodeShuttingDown)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Queues: newFakeQueues()}, "dir is required"},
		{Config{Dir: "x"}, "queues is required"},
		{Config{Dir: "x", Queues: newFakeQueues(), SessionTimeout: time.Millisecond}, "session timeout 1ms"},
		{Config{Dir: "x", Queues: newFakeQueues(), SessionTimeout: time.Hour}, "session timeout 1h0m0s"},
		{Config{Dir: "x", Queues: newFakeQueues()}, ""},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
