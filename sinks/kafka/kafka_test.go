package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC)

func logEvent(msg string, meta map[string]string, fields ...any) *event.Event {
	e := event.NewLog(msg, t0, meta)
	for i := 0; i+1 < len(fields); i += 2 {
		e.Set(fields[i].(string), fields[i+1])
	}
	return e
}

func metricEvent() *event.Event {
	return &event.Event{Kind: event.KindMetric, Time: t0, Meta: map[string]string{"host": "m1"},
		Series: []prompb.TimeSeries{{
			Labels:  []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "node"}},
			Samples: []prompb.Sample{{Timestamp: 1767323045123, Value: 1}},
		}}}
}

func boolp(b bool) *bool { return &b }

// TestWriteReadBack writes events through the sink into kfake and reads
// them back: values, keys, headers, timestamps and topics exactly.
func TestWriteReadBack(t *testing.T) {
	type want struct {
		topic string
		recs  []record // Topic, Key, Value, Headers compared
	}
	tests := []struct {
		name        string
		cfg         Config
		events      []*event.Event
		want        []want
		wantDropped uint64
	}{{
		name: "json literal topic with meta headers",
		cfg:  Config{Topic: "logs"},
		events: []*event.Event{
			logEvent("hello", map[string]string{"source": "app", "host": "a"}, "level", "info"),
			logEvent("two\nlines \"q\"", nil, "http.status", 503.0),
		},
		want: []want{{"logs", []record{
			{Value: `{"timestamp":"2026-01-02T03:04:05.123Z","level":"info","message":"hello","meta":{"host":"a","source":"app"}}`,
				Headers: "host=a,source=app"},
			{Value: `{"timestamp":"2026-01-02T03:04:05.123Z","http":{"status":503},"message":"two\nlines \"q\""}`},
		}}},
	}, {
		name: "text encoding, key template, no headers",
		cfg:  Config{Topic: "logs", Key: "{{ meta.host }}/{{ meta.file }}", Encoding: "text", HeadersFromMeta: boolp(false)},
		events: []*event.Event{
			logEvent("line one", map[string]string{"host": "a", "file": "/var/log/x"}),
			logEvent("line two", map[string]string{"host": "b"}),
			logEvent("no key", nil),
			logEvent("", nil, "message", map[string]any{"a": 1.0}),
		},
		want: []want{{"logs", []record{
			{Key: "a//var/log/x", Value: "line one"},
			{Key: "b/", Value: "line two"},
			{Key: "/", Value: "no key"},
			{Key: "/", Value: `{"a":1}`},
		}}},
	}, {
		name: "topic templates from meta and fields; empty topic dropped",
		cfg:  Config{Topic: "{{ meta.env }}{{ service }}", Encoding: "text", HeadersFromMeta: boolp(false)},
		events: []*event.Event{
			logEvent("to prod-api", map[string]string{"env": "prod-"}, "service", "api"),
			logEvent("to web", nil, "service", "web"),
			logEvent("nowhere", nil),
			logEvent("to prod-api again", map[string]string{"env": "prod-"}, "service", "api"),
			logEvent("sanitised", nil, "service", "web/x y"),
		},
		want: []want{
			{"prod-api", []record{{Value: "to prod-api"}, {Value: "to prod-api again"}}},
			{"web", []record{{Value: "to web"}}},
			{"web_x_y", []record{{Value: "sanitised"}}},
		},
		wantDropped: 1,
	}, {
		name:   "metric events are json even with encoding text",
		cfg:    Config{Topic: "metrics", Key: "{{ meta.host }}", Encoding: "text"},
		events: []*event.Event{metricEvent()},
		want: []want{{"metrics", []record{{Key: "m1", Headers: "host=m1",
			Value: `{"timestamp":"2026-01-02T03:04:05.123Z","series":[{"labels":{"__name__":"up","job":"node"},"samples":[[1767323045123,1]]}],"meta":{"host":"m1"}}`}}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := newCluster(t, kfake.SeedTopics(1, "logs", "metrics", "prod-api", "web", "web_x_y"))
			set := settings()
			tt.cfg.Brokers = kc.ListenAddrs()
			s := newSink(t, tt.cfg, set)
			if err := s.Write(context.Background(), tt.events); err != nil {
				t.Fatal(err)
			}
			sent := 0
			for _, w := range tt.want {
				got := readAll(t, kc.ListenAddrs(), w.topic, nil)
				if len(got) != len(w.recs) {
					t.Fatalf("topic %s: got %d records %v, want %d", w.topic, len(got), values(got), len(w.recs))
				}
				for i, g := range got {
					want := w.recs[i]
					want.Topic, want.Time = w.topic, t0
					g.Partition = 0
					if !g.Time.Equal(t0) {
						t.Errorf("topic %s record %d: time %v, want %v", w.topic, i, g.Time, t0)
					}
					g.Time = t0
					if g != want {
						t.Errorf("topic %s record %d:\n got %+v\nwant %+v", w.topic, i, g, want)
					}
				}
				sent += len(w.recs)
			}
			if got := s.messages.Get(); got != uint64(sent) {
				t.Errorf("messages metric %d, want %d", got, sent)
			}
			if got := s.dropped.Get(); got != tt.wantDropped {
				t.Errorf("dropped metric %d, want %d", got, tt.wantDropped)
			}
			if s.retries.Get() != 0 || s.failures.Get() != 0 {
				t.Errorf("retries %d, errors %d, want none", s.retries.Get(), s.failures.Get())
			}
		})
	}
}

// TestKeysStayInOnePartition: the hash balancer puts every message of a
// key in one partition, in order; keyless messages spread.
func TestKeysStayInOnePartition(t *testing.T) {
	kc := newCluster(t, kfake.SeedTopics(4, "logs"))
	s := newSink(t, Config{Brokers: kc.ListenAddrs(), Topic: "logs", Key: "{{ meta.host }}", Encoding: "text"}, settings())
	var events []*event.Event
	for i := range 200 {
		events = append(events, logEvent(fmt.Sprint(i), map[string]string{"host": fmt.Sprintf("h%d", i%7)}))
	}
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, kc.ListenAddrs(), "logs", nil)
	if len(got) != 200 {
		t.Fatalf("read %d records, want 200", len(got))
	}
	partOf, last := map[string]int{}, map[string]int{}
	for _, r := range got {
		if p, ok := partOf[r.Key]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		partOf[r.Key] = r.Partition
		var n int
		fmt.Sscan(r.Value, &n)
		if fmt.Sprintf("h%d", n%7) != r.Key || r.Headers != "host="+r.Key {
			t.Fatalf("record %+v: value, key and header disagree", r)
		}
		if l, ok := last[r.Key]; ok && n <= l {
			t.Fatalf("key %s: %d after %d", r.Key, n, l)
		}
		last[r.Key] = n
	}
	if len(partOf) != 7 {
		t.Fatalf("%d keys read back, want 7", len(partOf))
	}
}

// TestCompressions reads back what every codec wrote.
func TestCompressions(t *testing.T) {
	for _, codec := range []string{"lz4", "none", "snappy", "zstd", "gzip"} {
		t.Run(codec, func(t *testing.T) {
			kc := newCluster(t, kfake.SeedTopics(1, "logs"))
			s := newSink(t, Config{Brokers: kc.ListenAddrs(), Topic: "logs", Encoding: "text", Compression: codec}, settings())
			var events []*event.Event
			var want []string
			for i := range 50 {
				msg := fmt.Sprintf("message %d %s", i, strings.Repeat("x", i))
				events = append(events, logEvent(msg, nil))
				want = append(want, msg)
			}
			if err := s.Write(context.Background(), events); err != nil {
				t.Fatal(err)
			}
			got := values(readAll(t, kc.ListenAddrs(), "logs", nil))
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("got %q\nwant %q", got, want)
			}
		})
	}
}

// TestRetriesOnlyFailedPartition: a temporary error on one partition is
// retried, and only that partition's messages are written again, so
// every message is stored exactly once.
func TestRetriesOnlyFailedPartition(t *testing.T) {
	kc := newCluster(t, kfake.SeedTopics(3, "logs"))
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "logs", Partitions: []int32{1}, Err: kerr.NotEnoughReplicas, Count: 2})
	s := newSink(t, Config{Brokers: kc.ListenAddrs(), Topic: "logs", Key: "{{ meta.k }}", Encoding: "text",
		Retry: config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(5 * time.Millisecond)}}, settings())
	var events []*event.Event
	for i := range 60 {
		events = append(events, logEvent(fmt.Sprint(i), map[string]string{"k": fmt.Sprint(i)}))
	}
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, kc.ListenAddrs(), "logs", nil)
	seen := map[string]int{}
	for _, r := range got {
		seen[r.Value]++
	}
	for i := range 60 {
		if n := seen[fmt.Sprint(i)]; n != 1 {
			t.Errorf("message %d stored %d times", i, n)
		}
	}
	if len(got) != 60 {
		t.Errorf("read %d records, want 60", len(got))
	}
	if s.retries.Get() != 2 || s.failures.Get() != 2 || s.messages.Get() != 60 {
		t.Errorf("retries %d, errors %d, messages %d; want 2, 2, 60", s.retries.Get(), s.failures.Get(), s.messages.Get())
	}
}

// TestPermanentErrorsAreNotRetried: what Kafka refuses for good, and a
// message larger than batch_bytes, come back at once.
func TestPermanentErrorsAreNotRetried(t *testing.T) {
	tests := []struct {
		name    string
		fault   *kfake.Fault
		cfg     Config
		msg     string
		wantErr string
		wantIs  error
	}{{
		name:    "topic authorisation",
		fault:   &kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "logs", Err: kerr.TopicAuthorizationFailed, Count: -1},
		msg:     "x",
		wantErr: "not retried: Kafka refuses them",
		wantIs:  kafka.TopicAuthorizationFailed,
	}, {
		name:    "larger than batch_bytes",
		cfg:     Config{BatchBytes: 1024},
		msg:     strings.Repeat("x", 2000),
		wantErr: "a message of 2000 bytes (topic logs) is larger than batch_bytes 1024",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := newCluster(t, kfake.SeedTopics(1, "logs"))
			if tt.fault != nil {
				kc.Fault(*tt.fault)
			}
			cfg := tt.cfg
			cfg.Brokers, cfg.Topic, cfg.Encoding = kc.ListenAddrs(), "logs", "text"
			s := newSink(t, cfg, settings())
			err := s.Write(context.Background(), []*event.Event{logEvent(tt.msg, nil)})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "kafka sink bridge: write 1 messages to ") {
				t.Fatalf("Write: %v, want an error containing %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("Write: %v, want errors.Is %v", err, tt.wantIs)
			}
			if s.retries.Get() != 0 || s.messages.Get() != 0 {
				t.Fatalf("retries %d, messages %d; want 0, 0", s.retries.Get(), s.messages.Get())
			}
		})
	}
}

// TestGivesUpAfterMaxElapsed: a broker that is down, or a topic that
// does not exist (create_topics false), fails Write once max_elapsed is
// spent, with the last error.
func TestGivesUpAfterMaxElapsed(t *testing.T) {
	tests := []struct {
		name    string
		down    bool
		topic   string
		wantIs  error
		wantErr string
	}{
		{name: "broker down", down: true, topic: "logs", wantErr: "connect: connection refused"},
		{name: "missing topic", topic: "nope", wantIs: kafka.UnknownTopicOrPartition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := newCluster(t, kfake.SeedTopics(1, "logs"))
			addrs := kc.ListenAddrs()
			if tt.down {
				kc.Close()
			}
			retry := config.Retry{InitialBackoff: config.Duration(time.Millisecond), MaxBackoff: config.Duration(10 * time.Millisecond),
				MaxElapsed: config.Duration(100 * time.Millisecond)}
			s := newSink(t, Config{Brokers: addrs, Topic: tt.topic, Retry: retry}, settings())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := s.Write(ctx, []*event.Event{logEvent("x", nil)})
			if err == nil || !strings.Contains(err.Error(), "kafka sink bridge: write 1 messages to ["+addrs[0]+"]: gave up after ") {
				t.Fatalf("Write: %v, want it to give up", err)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Write: %v, want %q in it", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("Write: %v, want errors.Is %v", err, tt.wantIs)
			}
			if s.retries.Get() == 0 || s.failures.Get() != s.retries.Get()+1 {
				t.Fatalf("retries %d, errors %d; want some retries and one more error", s.retries.Get(), s.failures.Get())
			}
		})
	}
}

// TestCreateTopics: with create_topics a missing topic is made.
func TestCreateTopics(t *testing.T) {
	kc := newCluster(t, kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	s := newSink(t, Config{Brokers: kc.ListenAddrs(), Topic: "fresh", Encoding: "text", CreateTopics: true}, settings())
	if err := s.Write(context.Background(), []*event.Event{logEvent("first", nil)}); err != nil {
		t.Fatal(err)
	}
	if got := values(readAll(t, kc.ListenAddrs(), "fresh", nil)); len(got) != 1 || got[0] != "first" {
		t.Fatalf("read %q, want [first]", got)
	}
}

// TestContextEndsRetries: Write returns ctx's error while it waits to
// retry.
func TestContextEndsRetries(t *testing.T) {
	kc := newCluster(t)
	addrs := kc.ListenAddrs()
	kc.Close()
	s := newSink(t, Config{Brokers: addrs, Topic: "logs",
		Retry: config.Retry{InitialBackoff: config.Duration(time.Hour), MaxBackoff: config.Duration(time.Hour), MaxElapsed: config.Duration(10 * time.Hour)}}, settings())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Write(ctx, []*event.Event{logEvent("x", nil)}) }()
	deadline := time.Now().Add(30 * time.Second)
	for s.retries.Get() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Write: %v, want context.Canceled", err)
	}
}

// TestWriteIsRepeatable: writing the same batch twice (the collector's
// retry) writes it twice and reuses the sink's buffers correctly.
func TestWriteIsRepeatable(t *testing.T) {
	kc := newCluster(t, kfake.SeedTopics(1, "logs"))
	s := newSink(t, Config{Brokers: kc.ListenAddrs(), Topic: "logs", Key: "{{ meta.host }}", Encoding: "text"}, settings())
	batch1 := []*event.Event{logEvent("a", map[string]string{"host": "h1"}), logEvent("b", map[string]string{"host": "h2"})}
	batch2 := []*event.Event{logEvent("c", map[string]string{"host": "h3"})}
	for _, b := range [][]*event.Event{batch1, batch2, batch1} {
		if err := s.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, r := range readAll(t, kc.ListenAddrs(), "logs", nil) {
		got = append(got, r.Key+":"+r.Value+":"+r.Headers)
	}
	want := "h1:a:host=h1 h2:b:host=h2 h3:c:host=h3 h1:a:host=h1 h2:b:host=h2"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, " "), want)
	}
	if s.bytes.Get() != 5*3 {
		t.Fatalf("bytes metric %d, want 15 (keys and values)", s.bytes.Get())
	}
}

// TestContextEndsInflightWrite: Write returns ctx's error while Kafka
// holds its produce request, and the next Write (with new buffers, since
// kafka-go may still hold the old ones) writes its own events intact.
func TestContextEndsInflightWrite(t *testing.T) {
	kc := newCluster(t, kfake.SeedTopics(1, "logs"))
	held, release := make(chan struct{}), make(chan struct{})
	kc.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.DropControl() // only the first produce is held
		close(held)
		kc.SleepControl(func() { <-release })
		return nil, nil, false // then handled as usual
	})
	s := newSink(t, Config{Brokers: kc.ListenAddrs(), Topic: "logs", Encoding: "text"}, settings())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Write(ctx, []*event.Event{logEvent("held", nil)}) }()
	<-held
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Write: %v, want context.Canceled", err)
	}
	if s.enc.buf != nil {
		t.Fatal("the buffers kafka-go may still read were kept for reuse")
	}
	close(release)
	if err := s.Write(context.Background(), []*event.Event{logEvent("next", nil)}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(values(readAll(t, kc.ListenAddrs(), "logs", nil)), " "); got != "held next" {
		t.Fatalf("read %q, want \"held next\"", got)
	}
}
