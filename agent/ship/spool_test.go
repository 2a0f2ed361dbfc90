package ship

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/spool"
	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/broker/server"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestSpoolWhileBrokerAway stops the broker while batches keep coming:
// they go to the spool without blocking the source, and once the broker
// is back the spool drains into it, every record once, in order.
func TestSpoolWhileBrokerAway(t *testing.T) {
	dataDir, addr := t.TempDir(), freeAddr(t)
	startSrv := func() *server.Server {
		srv, err := server.Start(server.Config{DataDir: dataDir, Listen: addr, HTTPListen: "off", AutoCreateTopics: true,
			DefaultQueues: 4, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := startSrv()
	c, err := client.New(client.Config{Addr: addr, Logger: quiet, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sp, err := spool.Open(spool.Config{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	s, err := New(Config{Sender: producer(t, c), Spool: sp, MaxInflight: 32 << 10, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()

	var a acks
	emit := func(from, to int) {
		for b := from; b < to; b++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := s.Emit(ctx, records("logs", "one-file", b*100, 100), a.fn(100))
			cancel()
			if err != nil {
				t.Fatalf("emit batch %d: %v (a source must not block while the spool has room)", b, err)
			}
		}
	}
	emit(0, 20)
	waitFor(t, "the first batches acknowledged", func() bool { return a.count() == 2000 })
	srv.Close()
	emit(20, 80) // the broker is away: these must be spooled
	if s.m.spooled.Get() == 0 {
		t.Fatal("nothing was spooled while the broker was away")
	}
	waitFor(t, "spooled batches acknowledged to the source", func() bool { return a.count() >= 7000 })
	srv = startSrv()
	defer srv.Close()
	emit(80, 100)
	waitFor(t, "the spool drained", func() bool { return sp.Len() == 0 && s.inflight.Load() == 0 })
	msgs := consumeAll(t, c, "logs", 10000)
	if len(msgs) != 10000 {
		t.Fatalf("%d records reached the broker, want 10000", len(msgs))
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("line-%06d", i); string(m.Body) != want {
			t.Fatalf("record %d is %q, want %q: order or completeness broken", i, m.Body, want)
		}
	}
	t.Logf("%d records spooled while the broker was away", s.m.spooled.Get())
}
