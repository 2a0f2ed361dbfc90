package kafkain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/broker/client"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestPollCommitReopen: everything produced is polled once, with its key,
// headers, time, partition and offset; what was committed is not handed
// again to the group, and what was polled but not committed is.
func TestPollCommitReopen(t *testing.T) {
	kc := newCluster(t, kfake.SeedTopics(3, "logs"))
	addrs := kc.ListenAddrs()
	var first []kafka.Message
	for i := range 30 {
		first = append(first, kafka.Message{Topic: "logs", Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "m-%d", i),
			Headers: []kafka.Header{{Key: "host", Value: []byte("h1")}, {Key: "i", Value: fmt.Appendf(nil, "%d", i)}},
			Time:    t0.Add(time.Duration(i) * time.Millisecond)})
	}
	produce(t, addrs, nil, first...)
	cfg := Config{Brokers: addrs, Group: "collectors", Topic: "logs"}

	r1 := newReader(t, cfg)
	got, _ := pollN(t, r1, 30)
	checkMessages(t, got, 30)
	if err := r1.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var second []kafka.Message
	for i := range 9 {
		second = append(second, kafka.Message{Topic: "logs", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "n-%d", i)})
	}
	produce(t, addrs, nil, second...)
	got, _ = pollN(t, r1, 9)
	if err := r1.Close(); err != nil { // without committing the 9
		t.Fatal(err)
	}

	// The 9 come again, then the markers, and none of the committed 30.
	r2 := newReader(t, cfg)
	produce(t, addrs, nil, markers(3, "x")...)
	again, _ := pollN(t, r2, 12)
	wantSorted(t, bodies(again), "n-0 n-1 n-2 n-3 n-4 n-5 n-6 n-7 n-8 x-0 x-1 x-2")
	wantSorted(t, bodies(got), "n-0 n-1 n-2 n-3 n-4 n-5 n-6 n-7 n-8")
	if err := r2.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}

	// Everything is committed: only new markers come.
	r3 := newReader(t, cfg)
	produce(t, addrs, nil, markers(3, "y")...)
	last, _ := pollN(t, r3, 3)
	wantSorted(t, bodies(last), "y-0 y-1 y-2")
	if err := r3.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r3.Commit(context.Background()); !errors.Is(err, client.ErrClosed) || err.Error() != "kafka input: closed" {
		t.Fatalf("Commit after Close: %v, want ErrClosed", err)
	}
}

// checkMessages checks the first n messages of TestPollCommitReopen.
func checkMessages(t *testing.T, got []client.Message, n int) {
	t.Helper()
	seen := map[string]bool{}
	nextOffset := map[uint32]int64{}
	for _, m := range got {
		var i int
		if _, err := fmt.Sscanf(string(m.Body), "m-%d", &i); err != nil || seen[string(m.Body)] {
			t.Fatalf("unexpected or repeated message %q", m.Body)
		}
		seen[string(m.Body)] = true
		if m.Topic != "logs" || m.Key != fmt.Sprintf("k%d", i%5) || !m.BornAt.Equal(t0.Add(time.Duration(i)*time.Millisecond)) ||
			len(m.Properties) != 2 || m.Properties["host"] != "h1" || m.Properties["i"] != fmt.Sprint(i) {
			t.Fatalf("message %d: %+v", i, m)
		}
		if m.Offset != nextOffset[m.Queue] {
			t.Fatalf("message %d: queue %d offset %d, want %d", i, m.Queue, m.Offset, nextOffset[m.Queue])
		}
		nextOffset[m.Queue]++
		if m.ID != "" || m.Tags != "" || !m.StoredAt.IsZero() {
			t.Fatalf("message %d: ID, tags or stored time set: %+v", i, m)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages, want %d", len(seen), n)
	}
}

func wantSorted(t *testing.T, got []string, want string) {
	t.Helper()
	slices.Sort(got)
	if strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, " "), want)
	}
}

// TestPollBounds: one Poll returns at most 1000 messages and about
// 4 MiB, and the batches add up to everything, in offset order.
func TestPollBounds(t *testing.T) {
	kc := newCluster(t, kfake.SeedTopics(1, "logs"))
	addrs := kc.ListenAddrs()
	var small []kafka.Message
	for i := range 2500 {
		small = append(small, kafka.Message{Topic: "logs", Value: fmt.Appendf(nil, "%d", i)})
	}
	produce(t, addrs, nil, small...)
	r := newReader(t, Config{Brokers: addrs, Group: "g", Topic: "logs"})
	defer r.Close()
	got, batches := pollN(t, r, 2500)
	for i, m := range got {
		if m.Offset != int64(i) || string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("message %d: offset %d body %q", i, m.Offset, m.Body)
		}
	}
	if slices.Max(batches) > 1000 {
		t.Fatalf("batches %v: one is over 1000 messages", batches)
	}

	big := strings.Repeat("x", 500<<10)
	var large []kafka.Message
	for range 12 {
		large = append(large, kafka.Message{Topic: "logs", Value: []byte(big)})
	}
	produce(t, addrs, nil, large...)
	_, batches = pollN(t, r, 12)
	if slices.Max(batches) > 8 { // 8 × 500 KiB = 4 MiB
		t.Fatalf("batches %v of 500 KiB messages: one is over 4 MiB", batches)
	}
}

// TestStartFromLatest: a new group with start_from latest skips what
// was there before it joined.
func TestStartFromLatest(t *testing.T) {
	kc := newCluster(t, kfake.SeedTopics(1, "logs"))
	addrs := kc.ListenAddrs()
	produce(t, addrs, nil, kafka.Message{Topic: "logs", Value: []byte("old-0")}, kafka.Message{Topic: "logs", Value: []byte("old-1")})
	r := newReader(t, Config{Brokers: addrs, Group: "late", Topic: "logs", StartFrom: "latest"})
	defer r.Close()
	// The reader resolves "latest" once it has joined, which this test
	// cannot see: keep producing until something arrives.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		produce(t, addrs, nil, kafka.Message{Topic: "logs", Value: fmt.Appendf(nil, "new-%d", i)})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		msgs, err := r.Poll(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if strings.HasPrefix(string(m.Body), "old") {
				t.Fatalf("start_from latest polled %q", m.Body)
			}
		}
		return
	}
	t.Fatal("nothing polled in 30s")
}

// TestPollEndsWithContextAndClose: Poll returns ctx's error, and
// ErrClosed once the Reader closes under it.
func TestPollEndsWithContextAndClose(t *testing.T) {
	kc := newCluster(t, kfake.SeedTopics(1, "logs"))
	r := newReader(t, Config{Brokers: kc.ListenAddrs(), Group: "g", Topic: "logs"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Poll(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Poll with an ended context: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Poll(context.Background())
		done <- err
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != ErrClosed {
		t.Fatalf("Poll during Close: %v, want ErrClosed", err)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "kafka input: brokers: at least one broker address (host:port) is required\n" +
			"group: a consumer group is required\ntopic: a topic is required"},
		{Config{Brokers: []string{"kafka"}, Group: "g", Topic: "t"}, `kafka input: brokers: "kafka" is not a host:port address`},
		{Config{Brokers: []string{"h:1"}, Group: "g", Topic: "t", StartFrom: "2026-01-01T00:00:00Z"},
			`kafka input: start_from: "2026-01-01T00:00:00Z" is not earliest or latest (a Kafka input cannot start at a time)`},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || err.Error() != tt.want {
			t.Errorf("New(%+v): %v\nwant: %s", tt.cfg, err, tt.want)
		}
	}
}
