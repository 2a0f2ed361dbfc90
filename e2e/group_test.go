package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
)

// consumed is one line of `sluice admin consume --format json`.
type consumed struct {
	Topic      string            `json:"topic"`
	Queue      uint32            `json:"queue"`
	Offset     int64             `json:"offset"`
	ID         string            `json:"id"`
	Key        string            `json:"key"`
	Tags       string            `json:"tags"`
	Properties map[string]string `json:"properties"`
	Body       string            `json:"body"`
	BornAt     string            `json:"born_at"`
	StoredAt   string            `json:"stored_at"`
}

// parseConsumed parses consume output; a torn last line (a killed
// process) is ignored.
func parseConsumed(t *testing.T, out string) []consumed {
	t.Helper()
	var msgs []consumed
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if line == "" {
			continue
		}
		var m consumed
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			if i == len(lines)-1 {
				continue
			}
			t.Fatalf("consume printed a line that is not JSON: %q: %v", line, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func lines(prefix string, from, to int) []byte {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%06d\n", prefix, i)
	}
	return []byte(b.String())
}

// produceKeyed sends lines prefix-from .. prefix-(to-1) with
// `sluice admin produce`, in 16 runs with 16 keys, so that the messages
// spread over the topic's queues by key hash.
func produceKeyed(t *testing.T, addr, topic, prefix string, from, to int) {
	t.Helper()
	const runs = 16
	step := (to - from + runs - 1) / runs
	for i := from; i < to; i += step {
		key := fmt.Sprintf("key-%d", (i-from)/step)
		if out, err := admin(t, addr, lines(prefix, i, min(i+step, to)), "produce", topic, "--key", key); err != nil {
			t.Fatalf("produce: %v %s", err, out)
		}
	}
}

// waitMembers waits until group has n members on topic owning every queue.
func waitMembers(t *testing.T, c *client.Client, group string, n int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		gs, err := c.DescribeGroup(ctx, group)
		cancel()
		if err == nil && len(gs) == 1 && len(gs[0].Members) == n {
			owned := 0
			for _, m := range gs[0].Members {
				owned += len(m.Queues)
			}
			if owned == 8 {
				return time.Since(start)
			}
		}
		if time.Since(start) > within {
			t.Fatalf("group %s did not reach %d members owning 8 queues within %v (last: %+v, %v)", group, n, within, gs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestGroupOfThreeConsumersEachMessageOnce(t *testing.T) {
	b := startBroker(t, t.TempDir(), freeAddr(t), `"off"`, "")
	c := newClient(t, b.addr)
	if _, err := admin(t, b.addr, nil, "topic", "create", "orders", "--queues", "8"); err != nil {
		t.Fatal(err)
	}
	const n = 30000
	var cons []*proc
	for i := range 3 {
		cons = append(cons, start(t, fmt.Sprintf("consumer %d", i), nil,
			"admin", "--broker", b.addr, "consume", "orders", "--group", "g", "--format", "json", "--timeout", "10s"))
	}
	// Every member joins before the first message, so no rebalance moves a
	// queue while it is being consumed: then each message comes once.
	waitMembers(t, c, "g", 3, 20*time.Second)
	produceKeyed(t, b.addr, "orders", "order", 0, n)
	seen := map[string]int{}
	for i, p := range cons {
		if err := p.wait(time.Minute); err != nil {
			t.Fatalf("consumer %d: %v\n%s", i, err, p.errb.String())
		}
		msgs := parseConsumed(t, p.out.String())
		if len(msgs) == 0 {
			t.Errorf("consumer %d got no message: the queues were not shared", i)
		}
		queues := map[uint32]bool{}
		for _, m := range msgs {
			seen[m.Body]++
			queues[m.Queue] = true
			if m.Topic != "orders" || m.ID == "" || m.StoredAt == "" || m.BornAt == "" {
				t.Fatalf("consumer %d printed an incomplete message: %+v", i, m)
			}
		}
		t.Logf("consumer %d: %d messages from queues %v", i, len(msgs), keys(queues))
	}
	for i := range n {
		body := fmt.Sprintf("order-%06d", i)
		if seen[body] != 1 {
			t.Fatalf("%s consumed %d times, want exactly once", body, seen[body])
		}
	}
	if len(seen) != n {
		t.Fatalf("consumed %d distinct messages, want %d", len(seen), n)
	}
}

func keys(m map[uint32]bool) []uint32 {
	var out []uint32
	for k := range uint32(1024) {
		if m[k] {
			out = append(out, k)
		}
	}
	return out
}

func TestKilledConsumerQueuesMoveToOthers(t *testing.T) {
	b := startBroker(t, t.TempDir(), freeAddr(t), `"off"`, "")
	c := newClient(t, b.addr)
	if _, err := admin(t, b.addr, nil, "topic", "create", "jobs", "--queues", "8"); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	var cons []*proc
	for i := range 3 {
		cons = append(cons, start(t, fmt.Sprintf("consumer %d", i), nil,
			"admin", "--broker", b.addr, "consume", "jobs", "--group", "g", "--format", "json", "--timeout", "25s"))
	}
	waitMembers(t, c, "g", 3, 20*time.Second)
	produceKeyed(t, b.addr, "jobs", "job", 0, n/2)
	// Kill one consumer once it has printed some of its messages.
	victim := cons[0]
	for deadline := time.Now().Add(30 * time.Second); len(parseConsumed(t, victim.out.String())) < 100; {
		if time.Now().After(deadline) {
			t.Fatal("the first consumer printed fewer than 100 messages in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	victim.kill9()
	// Its queues move to the two others within the session timeout (10s)
	// plus one heartbeat of the survivors (a third of it).
	moved := waitMembers(t, c, "g", 2, 10*time.Second+4*time.Second)
	t.Logf("queues of the killed consumer moved after %v", moved)
	produceKeyed(t, b.addr, "jobs", "job", n/2, n)
	seen := map[string]int{}
	for _, m := range parseConsumed(t, victim.out.String()) {
		seen[m.Body]++
	}
	for i, p := range cons[1:] {
		if err := p.wait(2 * time.Minute); err != nil {
			t.Fatalf("consumer %d: %v", i+1, err)
		}
		for _, m := range parseConsumed(t, p.out.String()) {
			seen[m.Body]++
		}
	}
	dups := 0
	for i := range n {
		body := fmt.Sprintf("job-%06d", i)
		switch seen[body] {
		case 0:
			t.Fatalf("%s was never delivered", body)
		case 1:
		default:
			dups++
		}
	}
	t.Logf("every message delivered; %d delivered more than once (the killed consumer's uncommitted ones)", dups)
}
