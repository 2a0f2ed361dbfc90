package groups

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkBalanced fails unless every queue 0..n-1 has exactly one owner among
// members and the members' queue counts differ by at most one.
func checkBalanced(t *testing.T, owner map[uint32]string, members []string, n int) {
	t.Helper()
	if len(owner) != n {
		t.Fatalf("%d queues owned, want %d: %v", len(owner), n, owner)
	}
	counts := map[string]int{}
	for _, id := range members {
		counts[id] = 0
	}
	for q, id := range owner {
		if int(q) >= n {
			t.Fatalf("queue %d owned, topic has %d", q, n)
		}
		if _, ok := counts[id]; !ok {
			t.Fatalf("queue %d owned by %q, not a member of %v", q, id, members)
		}
		counts[id]++
	}
	lo, hi := n, 0
	for _, c := range counts {
		lo, hi = min(lo, c), max(hi, c)
	}
	if hi-lo > 1 {
		t.Fatalf("unbalanced: %v", counts)
	}
}

// moved returns the queues whose owner differs between a and b.
func moved(a, b map[uint32]string) []uint32 {
	var qs []uint32
	for q, o := range b {
		if a[q] != o {
			qs = append(qs, q)
		}
	}
	slices.Sort(qs)
	return qs
}

func TestRebalanceJoinsOneToFive(t *testing.T) {
	const n = 8
	owner := map[uint32]string{}
	var members []string
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("m%d", i)
		members = append(members, id)
		next := rebalance(owner, members, n)
		checkBalanced(t, next, members, n)
		// Only the queues the newcomer needs move, and all go to it.
		mv := moved(owner, next)
		if got, want := len(mv), len(queuesOf(next, id)); got != want {
			t.Fatalf("join of %s moved %v, newcomer owns %d", id, mv, want)
		}
		for _, q := range mv {
			if next[q] != id {
				t.Fatalf("join of %s moved queue %d to %s", id, q, next[q])
			}
		}
		// Taken from the most loaded: nobody drops below the new floor.
		for _, m := range members {
			if got := len(queuesOf(next, m)); got < n/len(members) {
				t.Fatalf("%s has %d queues after join of %s", m, got, id)
			}
		}
		owner = next
	}
}

func TestRebalanceLeaveMovesOnlyLeaversQueues(t *testing.T) {
	const n = 8
	members := []string{"a", "b", "c", "d", "e"}
	owner := rebalance(nil, members, n)
	for len(members) > 1 {
		leaver := members[1]
		old := queuesOf(owner, leaver)
		members = slices.Delete(members, 1, 2)
		next := rebalance(owner, members, n)
		checkBalanced(t, next, members, n)
		if mv := moved(owner, next); !slices.Equal(mv, old) {
			t.Fatalf("leave of %s moved %v, it owned %v", leaver, mv, old)
		}
		owner = next
	}
	if got := queuesOf(owner, "a"); len(got) != n {
		t.Fatalf("last member owns %v", got)
	}
}

// TestRebalanceRandom runs random joins and leaves over random queue counts
// and checks balance and stickiness after each.
func TestRebalanceRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(16)
		owner := map[uint32]string{}
		var members []string
		next := 0
		for range 30 {
			if len(members) == 0 || (len(members) < 10 && rng.IntN(2) == 0) {
				id := fmt.Sprintf("m%02d", next)
				next++
				members = append(members, id)
				after := rebalance(owner, members, n)
				checkBalanced(t, after, members, n)
				if mv, mine := moved(owner, after), queuesOf(after, id); len(mv) != len(mine) {
					t.Fatalf("round %d: join of %s moved %v, it got %v", round, id, mv, mine)
				}
				owner = after
				continue
			}
			i := rng.IntN(len(members))
			leaver := members[i]
			old := queuesOf(owner, leaver)
			members = slices.Delete(members, i, i+1)
			after := rebalance(owner, members, n)
			if len(members) > 0 {
				checkBalanced(t, after, members, n)
			}
			if mv := moved(owner, after); len(members) > 0 && !slices.Equal(mv, old) {
				t.Fatalf("round %d: leave of %s moved %v, it owned %v", round, leaver, mv, old)
			}
			owner = after
		}
	}
}

func TestRebalanceEdges(t *testing.T) {
	if got := rebalance(map[uint32]string{0: "a"}, nil, 4); len(got) != 0 {
		t.Fatalf("no members: %v", got)
	}
	if got := rebalance(nil, []string{"a"}, 0); len(got) != 0 {
		t.Fatalf("no queues: %v", got)
	}
	// More members than queues: some stay idle, each queue has one owner.
	members := []string{"a", "b", "c", "d"}
	got := rebalance(nil, members, 2)
	checkBalanced(t, got, members, 2)
	// The queue count shrinks: owners of vanished queues lose them.
	owner := rebalance(nil, []string{"a", "b"}, 8)
	got = rebalance(owner, []string{"a", "b"}, 4)
	checkBalanced(t, got, []string{"a", "b"}, 4)
	// The queue count grows: existing queues stay put.
	got = rebalance(owner, []string{"a", "b"}, 10)
	checkBalanced(t, got, []string{"a", "b"}, 10)
	for q, o := range owner {
		if got[q] != o {
			t.Fatalf("growing moved queue %d from %s to %s", q, o, got[q])
		}
	}
}

func TestParseStart(t *testing.T) {
	for _, tc := range []struct {
		in      string
		emptyOK bool
		want    startPos
		bad     bool
	}{
		{in: "", emptyOK: true, want: startPos{kind: startEarliest}},
		{in: "", bad: true},
		{in: "earliest", want: startPos{kind: startEarliest}},
		{in: "latest", want: startPos{kind: startLatest}},
		{in: "2025-06-01T12:00:00Z", want: startPos{kind: startTime, ms: 1748779200000}},
		{in: "2025-06-01T14:00:00.5+02:00", want: startPos{kind: startTime, ms: 1748779200500}},
		{in: "yesterday", bad: true},
		{in: "2025-06-01", bad: true},
	} {
		got, err := parseStart(tc.in, tc.emptyOK)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("parseStart(%q, %v) = %+v, %v; want %+v, bad=%v", tc.in, tc.emptyOK, got, err, tc.want, tc.bad)
		}
	}
}
