package groups

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/protocol"
)

func TestLag(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now().UnixMilli()
	e.qs.produce("t", 0, 4, now-60_000)
	e.qs.produce("t", 0, 6, now-30_000)
	e.qs.produce("t", 1, 3, now-10_000)
	a := e.join(protocol.JoinGroup{ClientID: "c"})
	if err := e.commit(a.MemberID, pos(0, 4)); err != nil {
		t.Fatal(err)
	}
	infos, err := e.c.Describe("g")
	if err != nil {
		t.Fatal(err)
	}
	g := infos[0]
	if len(g.Lag) != 8 || g.TotalLag != 6+3 {
		t.Fatalf("lag: %+v, total %d", g.Lag, g.TotalLag)
	}
	want0 := protocol.QueueLag{Queue: 0, Committed: 4, Max: 10, Lag: 6, OldestAgeMs: 30_000, Owner: a.MemberID}
	if g.Lag[0] != want0 {
		t.Fatalf("queue 0: %+v, want %+v", g.Lag[0], want0)
	}
	// Nothing committed on queue 1: lag counts from where the group starts.
	want1 := protocol.QueueLag{Queue: 1, Committed: 0, Max: 3, Lag: 3, OldestAgeMs: 10_000, Owner: a.MemberID}
	if g.Lag[1] != want1 {
		t.Fatalf("queue 1: %+v, want %+v", g.Lag[1], want1)
	}
	if g.Lag[2].Lag != 0 || g.Lag[2].OldestAgeMs != 0 {
		t.Fatalf("empty queue 2: %+v", g.Lag[2])
	}
	if len(g.Members) != 1 || g.Members[0].ClientID != "c" || len(g.Members[0].Queues) != 8 {
		t.Fatalf("members: %+v", g.Members)
	}

	// Retention removed the committed offset: the lag counts what is left.
	e.qs.trim("t", 0, 7)
	infos, _ = e.c.Describe("g")
	if l := infos[0].Lag[0]; l.Committed != 4 || l.Lag != 3 || l.OldestAgeMs != 30_000 {
		t.Fatalf("queue 0 after retention: %+v", l)
	}

	_, err = e.c.Describe("nope")
	wantCode(t, err, protocol.CodeUnknownGroup)
}

func scrape(set *metrics.Set) string {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	return b.String()
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.qs.produce("t", 0, 10, e.clock.Now().UnixMilli()-2000)
	a := e.join(protocol.JoinGroup{})
	e.join(protocol.JoinGroup{})
	owned := e.heartbeat(a.MemberID).Queues[0].Queue
	if err := e.commit(a.MemberID, pos(owned, 0)); err != nil {
		t.Fatal(err)
	}
	out := scrape(e.c.Metrics())
	for _, want := range []string{
		"sluice_group_members 2\n",
		"sluice_group_subscriptions 1\n",
		"sluice_group_rebalances_total 2\n",
		"sluice_group_commits_total 1\n",
		`sluice_group_lag_messages{group="g",topic="t",queue="0"} 10` + "\n",
		`sluice_group_lag_oldest_seconds{group="g",topic="t",queue="0"} 2` + "\n",
		`sluice_group_lag_messages{group="g",topic="t",queue="7"} 0` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}

	if err := e.c.DeleteTopic("t"); err != nil {
		t.Fatal(err)
	}
	if out := scrape(e.c.Metrics()); strings.Contains(out, "sluice_group_lag") {
		t.Fatalf("lag metrics of a deleted subscription remain:\n%s", out)
	}

	// Close leaves the set empty, so that it can serve a new coordinator.
	set := e.c.Metrics()
	e.qs.addTopic("t2", 2)
	e.join(protocol.JoinGroup{Topic: "t2"})
	if !strings.Contains(scrape(set), `sluice_group_lag_messages{group="g",topic="t2",queue="1"} 0`) {
		t.Fatal("no lag metrics for g/t2")
	}
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	if names := set.ListMetricNames(); len(names) != 0 {
		t.Fatalf("metrics left after Close: %v", names)
	}
}

func TestListSorted(t *testing.T) {
	e := newEnv(t)
	e.qs.addTopic("a", 1)
	for _, r := range []protocol.JoinGroup{{Group: "z"}, {Group: "m", Topic: "t"}, {Group: "m", Topic: "a"}} {
		e.join(r)
	}
	var got []string
	for _, g := range e.c.List() {
		got = append(got, g.Group+"/"+g.Topic)
	}
	if strings.Join(got, " ") != "m/a m/t z/t" {
		t.Fatalf("list order: %v", got)
	}
}

func TestHeartbeatKeepsMemberAlive(t *testing.T) {
	e := newEnv(t)
	a := e.join(protocol.JoinGroup{SessionTimeoutMs: 3000})
	for range 10 {
		e.clock.Advance(2 * time.Second)
		e.heartbeat(a.MemberID)
	}
	if _, err := e.c.Heartbeat(context.Background(), protocol.Heartbeat{Group: "g", Topic: "t", MemberID: a.MemberID}); err != nil {
		t.Fatalf("member that heartbeats expired: %v", err)
	}
}
