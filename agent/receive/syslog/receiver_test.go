package syslog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/source"
)

// collector gathers emitted records for the test.
type collector struct {
	mu   sync.Mutex
	recs []source.Record
	more chan struct{}
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1)} }

func (c *collector) Emit(ctx context.Context, recs []source.Record, ack func(error)) error {
	c.mu.Lock()
	c.recs = append(c.recs, recs...)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
	if ack != nil {
		ack(nil)
	}
	return nil
}

// wait returns the first n records, failing after a generous deadline.
func (c *collector) wait(t *testing.T, n int) []source.Record {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.recs) >= n {
			out := append([]source.Record(nil), c.recs...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("got %d records, want %d", len(c.recs), n)
		}
	}
}

func start(t *testing.T, cfg Config) (*Receiver, *collector) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.Topic = "logs"
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Location = time.UTC
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r, c
}

func dial(t *testing.T, r *Receiver) net.Conn {
	t.Helper()
	conn, err := net.Dial(r.Addr().Network(), r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

const msg5424 = `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`
const msg3164 = "<86>Jan  2 09:58:01 web1 sshd[4123]: Accepted publickey"

func checkRecords(t *testing.T, recs []source.Record) {
	t.Helper()
	r0, r1 := recs[0], recs[1]
	if string(r0.Body) != msg5424 || string(r1.Body) != msg3164 {
		t.Fatalf("bodies %q, %q", r0.Body, r1.Body)
	}
	want0 := map[string]string{
		"facility": "local4", "severity": "notice", "hostname": "mymachine.example.com", "app_name": "evntslog",
		"msg_id": "ID47", "timestamp": "2003-10-11T22:14:15.003Z", "sd.exampleSDID@32473.iut": "3",
		"sd.exampleSDID@32473.eventSource": "Application", "source": "syslog", "dc": "eu1",
	}
	for k, v := range want0 {
		if r0.Properties[k] != v {
			t.Errorf("5424 record: %s = %q, want %q (all: %v)", k, r0.Properties[k], v, r0.Properties)
		}
	}
	if _, ok := r0.Properties["proc_id"]; ok {
		t.Errorf("nil proc_id set: %v", r0.Properties)
	}
	if r0.Key != "mymachine.example.com" || r0.Topic != "logs" || r0.Properties["remote_addr"] == "" {
		t.Errorf("5424 record: key %q topic %q props %v", r0.Key, r0.Topic, r0.Properties)
	}
	want1 := map[string]string{"facility": "authpriv", "severity": "info", "hostname": "web1", "app_name": "sshd", "proc_id": "4123"}
	for k, v := range want1 {
		if r1.Properties[k] != v {
			t.Errorf("3164 record: %s = %q, want %q", k, r1.Properties[k], v)
		}
	}
}

func TestUDP(t *testing.T) {
	r, c := start(t, Config{Protocol: "udp", MaxMessageBytes: 1024, Fields: map[string]string{"dc": "eu1"}})
	conn := dial(t, r)
	for _, m := range []string{msg5424, strings.Repeat("x", 2000), msg3164} {
		if _, err := conn.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	recs := c.wait(t, 2)
	checkRecords(t, recs)
	if len(recs) != 2 {
		t.Fatalf("oversized datagram emitted: %d records", len(recs))
	}
}

func TestTCPFramings(t *testing.T) {
	for _, tc := range []struct{ name, stream string }{
		{"octet counting", fmt.Sprintf("%d %s%d %s", len(msg5424), msg5424, len(msg3164), msg3164)},
		{"newline", msg5424 + "\n\n" + msg3164 + "\r\n"},
		{"newline, last line unterminated", msg5424 + "\n" + msg3164},
		{"octet counting with oversized frame skipped", fmt.Sprintf("%d %s2000 %s%d %s", len(msg5424), msg5424, strings.Repeat("y", 2000), len(msg3164), msg3164)},
		{"newline with oversized line skipped", msg5424 + "\n" + strings.Repeat("z", 5000) + "\n" + msg3164 + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := start(t, Config{Protocol: "tcp", MaxMessageBytes: 1024, Fields: map[string]string{"dc": "eu1"}})
			conn := dial(t, r)
			if _, err := io.WriteString(conn, tc.stream); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			recs := c.wait(t, 2)
			checkRecords(t, recs)
			if len(recs) != 2 {
				t.Fatalf("%d records, want 2", len(recs))
			}
		})
	}
}

func TestTCPSplitWrites(t *testing.T) {
	r, c := start(t, Config{Protocol: "tcp", Fields: map[string]string{"dc": "eu1"}})
	conn := dial(t, r)
	stream := fmt.Sprintf("%d %s%d %s", len(msg5424), msg5424, len(msg3164), msg3164)
	for i := 0; i < len(stream); i += 7 {
		if _, err := io.WriteString(conn, stream[i:min(i+7, len(stream))]); err != nil {
			t.Fatal(err)
		}
	}
	checkRecords(t, c.wait(t, 2))
}

func TestTCPStopWithOpenConnection(t *testing.T) {
	r, c := start(t, Config{Protocol: "tcp"})
	conn := dial(t, r)
	io.WriteString(conn, msg3164+"\n")
	c.wait(t, 1) // the Cleanup stop must close this idle connection
}

func TestConfigValidate(t *testing.T) {
	c := Config{Topic: "logs"}
	if err := c.Validate(); err != nil || c.Protocol != "udp" || c.Listen != DefaultListen || c.MaxMessageBytes != DefaultMaxMessageBytes {
		t.Fatalf("defaults: %v %+v", err, c)
	}
	for _, bad := range []Config{{}, {Topic: "l", Protocol: "sctp"}, {Topic: "l", Listen: "x"}, {Topic: "l", MaxBatch: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

// A complete message followed by half of the next is emitted without
// waiting for the rest.
func TestTCPPartialFrameDoesNotHoldBack(t *testing.T) {
	for _, stream := range []string{
		fmt.Sprintf("%d %s%d %s", len(msg3164), msg3164, len(msg5424), msg5424[:20]),
		msg3164 + "\n" + msg5424[:20],
	} {
		r, c := start(t, Config{Protocol: "tcp"})
		conn := dial(t, r)
		if _, err := io.WriteString(conn, stream); err != nil {
			t.Fatal(err)
		}
		if recs := c.wait(t, 1); string(recs[0].Body) != msg3164 {
			t.Fatalf("body %q", recs[0].Body)
		}
	}
}
