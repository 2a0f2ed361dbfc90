package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
)

// proc is a sluice process started by a test.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	errb *syncBuffer
	done chan struct{}
	err  error
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs sluice with args; stdin may be nil. The process is killed at
// the end of the test if still running.
func start(t testing.TB, name string, stdin []byte, args ...string) *proc {
	t.Helper()
	return startIn(t, "", name, stdin, args...)
}

// startIn is start with the process's working directory set to dir.
func startIn(t testing.TB, dir, name string, stdin []byte, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, out: &syncBuffer{}, errb: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(sluiceBin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.errb
	if stdin != nil {
		p.cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, tail(p.errb.String(), 3000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %v; stderr:\n%s", p.name, timeout, tail(p.errb.String(), 3000))
		return nil
	}
}

func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) term(timeout time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(timeout)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// brokerProc is a `sluice broker` process with its addresses.
type brokerProc struct {
	*proc
	addr, http, dir string
}

// startBroker runs `sluice broker` on dir and waits until it serves.
func startBroker(t testing.TB, dir, addr, httpAddr string, extraYAML string) *brokerProc {
	t.Helper()
	cfg := filepath.Join(dir, "sluice.yaml")
	yaml := fmt.Sprintf("broker:\n  listen: %s\n  http_listen: %s\n  data_dir: %s\n%s", addr, httpAddr, filepath.Join(dir, "data"), extraYAML)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &brokerProc{proc: start(t, "broker", nil, "broker", "-c", cfg), addr: addr, http: httpAddr, dir: dir}
	c := newClient(t, addr)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.ListTopics(ctx)
		cancel()
		if err == nil {
			return b
		}
		select {
		case <-b.done:
			t.Fatalf("broker exited at start: %v\n%s", b.err, tail(b.errb.String(), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not ready after 20s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newClient returns a client closed at the end of the test.
func newClient(t testing.TB, addr string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Addr: addr, ClientName: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// admin runs `sluice admin --broker addr args...` to completion.
func admin(t testing.TB, addr string, stdin []byte, args ...string) (string, error) {
	t.Helper()
	p := start(t, "admin "+strings.Join(args, " "), stdin, append([]string{"admin", "--broker", addr}, args...)...)
	err := p.wait(2 * time.Minute)
	if err != nil {
		return p.out.String(), fmt.Errorf("%w: %s", err, p.errb.String())
	}
	return p.out.String(), nil
}
