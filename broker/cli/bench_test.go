package cli

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestBenchOptionsValidate(t *testing.T) {
	good := benchOpts{producers: 1, msgSize: 200, batch: 10, queues: 8, flush: "sync", duration: time.Second, payload: "log"}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mut  func(*benchOpts)
		want string
	}{
		{func(o *benchOpts) { o.producers = 0 }, "--producers"},
		{func(o *benchOpts) { o.msgSize = 4 }, "--message-size"},
		{func(o *benchOpts) { o.flush = "never" }, "--flush"},
		{func(o *benchOpts) { o.payload = "zeros" }, "--payload"},
		{func(o *benchOpts) { o.rate = -1 }, "--rate"},
		{func(o *benchOpts) { o.queues = 2000 }, "--queues"},
	} {
		o := good
		c.mut(&o)
		if err := o.validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("validate: %v, want an error about %s", err, c.want)
		}
	}
}

func TestPacerSpacing(t *testing.T) {
	p := newPacer(4000, 4) // 1,000/s per producer: 100 messages per 100ms
	if p.every != 100*time.Millisecond {
		t.Fatalf("every %v, want 100ms", p.every)
	}
	if newPacer(0, 4).every != 0 {
		t.Fatal("rate 0 paces")
	}
}

func TestBenchBodies(t *testing.T) {
	for _, kind := range []string{"log", "random"} {
		bodies := benchBodies(kind, 200, 1)
		if len(bodies) != 4096 || len(bodies[0]) != 200 || string(bodies[0]) == string(bodies[1]) {
			t.Fatalf("%s bodies: %d of %d bytes, first two equal: %v", kind, len(bodies), len(bodies[0]), string(bodies[0]) == string(bodies[1]))
		}
	}
}

func TestProcUsageOfThisProcess(t *testing.T) {
	busy := time.Now()
	for time.Since(busy) < 50*time.Millisecond {
	}
	cpu, rss, err := procUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 || rss <= 1 {
		t.Fatalf("cpu %v s, rss %v MiB: implausible for a running test", cpu, rss)
	}
}

func TestFillFiles(t *testing.T) {
	dir := t.TempDir()
	paths := []string{dir + "/a.log", dir + "/b.log"}
	n, err := fillFiles(paths, "xxxx", 5)
	if err != nil || n != 5 {
		t.Fatal(n, err)
	}
	a, _ := os.ReadFile(paths[0])
	b, _ := os.ReadFile(paths[1])
	if string(a) != "xxxx\nxxxx\nxxxx\n" || string(b) != "xxxx\nxxxx\n" {
		t.Fatalf("files %q %q", a, b)
	}
}
