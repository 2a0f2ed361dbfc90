package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/broker/client"
)

// startChildBroker runs `sluice broker` (this executable) on a free port
// and a temporary directory, and waits until it answers.
func startChildBroker(ctx context.Context, flush string, keep bool) (*childBroker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the sluice executable: %w", err)
	}
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cfgPath := filepath.Join(dir, "broker.yaml")
	cfg := fmt.Sprintf("broker:\n  listen: %s\n  http_listen: \"off\"\n  data_dir: %s\n  flush: %s\n", addr, filepath.Join(dir, "data"), flush)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(exe, "broker", "-c", cfgPath)
	logf, err := os.Create(filepath.Join(dir, "broker.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start broker: %w", err)
	}
	b := &childBroker{addr: addr, dir: dir, keep: keep, proc: cmd.Process, done: make(chan struct{})}
	go func() { cmd.Wait(); close(b.done) }()
	if err := b.waitReady(ctx); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (b *childBroker) waitReady(ctx context.Context) error {
	c, err := client.New(client.Config{Addr: b.addr, ClientName: "sluice-bench"})
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.ListTopics(rctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-b.done:
			return fmt.Errorf("broker exited at start; its log is %s", filepath.Join(b.dir, "broker.log"))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("broker at %s not ready after 15s: %w", b.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the broker gracefully, or kills it after 10 s, and removes its
// directory unless asked to keep it.
func (b *childBroker) stop() {
	b.proc.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.proc.Kill()
		<-b.done
	}
	if b.keep {
		fmt.Fprintf(os.Stderr, "broker data kept in %s\n", b.dir)
		return
	}
	os.RemoveAll(b.dir)
}
