package up

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Demo log generator settings.
const (
	demoRate     = 20 // lines per second
	demoMaxBytes = 16 << 20
)

var demoEvents = []struct{ level, service, msg string }{
	{"info", "checkout", "order placed"},
	{"info", "checkout", "payment authorised"},
	{"debug", "cart", "cache hit"},
	{"warn", "cart", "slow inventory lookup"},
	{"info", "auth", "user logged in"},
	{"error", "payments", "card declined by issuer"},
}

// generateDemo appends JSON log lines to dir/app.log until ctx ends,
// renaming it to app.log.1 past demoMaxBytes, as logrotate would.
func generateDemo(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo log directory: %w", err)
	}
	path := filepath.Join(dir, "app.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("demo log: %w", err)
	}
	defer func() { f.Close() }()
	tick := time.NewTicker(time.Second / demoRate)
	defer tick.Stop()
	var buf []byte
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			e := demoEvents[rand.N(len(demoEvents))]
			buf = fmt.Appendf(buf[:0], `{"time":%q,"level":%q,"service":%q,"msg":%q,"request_id":"%08x","latency_ms":%.1f}`+"\n",
				now.UTC().Format(time.RFC3339Nano), e.level, e.service, e.msg, rand.Uint32(), rand.ExpFloat64()*40)
			if _, err := f.Write(buf); err != nil {
				return fmt.Errorf("demo log: %w", err)
			}
			if st, err := f.Stat(); err == nil && st.Size() > demoMaxBytes {
				f.Close()
				if err := os.Rename(path, path+".1"); err != nil {
					return fmt.Errorf("rotate demo log: %w", err)
				}
				if f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
					return fmt.Errorf("demo log: %w", err)
				}
			}
		}
	}
}
