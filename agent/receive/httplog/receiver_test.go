package httplog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/source"
)

type batch struct {
	recs []source.Record
	ack  func(error)
}

type chanEmitter chan batch

func (c chanEmitter) Emit(ctx context.Context, recs []source.Record, ack func(error)) error {
	select {
	case c <- batch{recs, ack}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// autoAck acks every batch at once and keeps the records.
type autoAck struct {
	mu   sync.Mutex
	recs []source.Record
}

func (a *autoAck) Emit(ctx context.Context, recs []source.Record, ack func(error)) error {
	a.mu.Lock()
	a.recs = append(a.recs, recs...)
	a.mu.Unlock()
	ack(nil)
	return nil
}

func (a *autoAck) bodies() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, r := range a.recs {
		out = append(out, string(r.Body))
	}
	return out
}

func start(t *testing.T, cfg Config, e source.Emitter) (*Receiver, func()) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.Topic = "logs"
	cfg.Host = "agent1"
	cfg.Logger = slog.New(slog.DiscardHandler)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, e) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			http.DefaultClient.CloseIdleConnections()
		})
	}
	t.Cleanup(stop)
	return r, stop
}

func post(t *testing.T, r *Receiver, ct, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+r.Addr().String()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		want           []string
	}{
		{"ndjson", "application/x-ndjson", "{\"a\":1}\n\n{\"b\": [2, 3]}\r\n{\"c\":\"x\"}", []string{`{"a":1}`, `{"b": [2, 3]}`, `{"c":"x"}`}},
		{"array", "application/json", "[\n {\"a\":1},\n {\"b\": {\"c\":2}}\n]", []string{`{"a":1}`, `{"b": {"c":2}}`}},
		{"single object as json", "application/json; charset=utf-8", `{"a":1}`, []string{`{"a":1}`}},
		{"text", "text/plain", "first line\r\nsecond line\n\nthird", []string{"first line", "second line", "third"}},
		{"sniffed ndjson", "", "{\"a\":1}\n{\"b\":2}\n", []string{`{"a":1}`, `{"b":2}`}},
		{"sniffed text", "", "plain words\n{not json", []string{"plain words", "{not json"}},
		{"empty", "application/x-ndjson", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em := &autoAck{}
			r, _ := start(t, Config{Fields: map[string]string{"env": "prod"}}, em)
			code, body := post(t, r, tc.ct, tc.body)
			if code != http.StatusOK {
				t.Fatalf("status %d %q", code, body)
			}
			got := em.bodies()
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			for _, rec := range em.recs {
				p := rec.Properties
				if rec.Topic != "logs" || rec.Key != "127.0.0.1" || p["env"] != "prod" || p["source"] != DefaultName ||
					p["host"] != "agent1" || !strings.HasPrefix(p["remote_addr"], "127.0.0.1:") {
					t.Errorf("record topic %q key %q properties %v", rec.Topic, rec.Key, p)
				}
			}
		})
	}
}

func TestMalformedFailsWholeRequest(t *testing.T) {
	for _, tc := range []struct{ name, ct, body, want string }{
		{"bad ndjson line", "application/x-ndjson", "{\"a\":1}\n{\"b\":2}\n{\"c\":\n{\"d\":4}\n", "line 3"},
		{"ndjson line not an object", "application/x-ndjson", "{\"a\":1}\n\n42\n", "line 3"},
		{"array element not an object", "application/json", "[\n{\"a\":1},\n\"str\"\n]", "line 3"},
		{"broken array", "application/json", "[\n{\"a\":1},\n{\"b\":}\n]", "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em := &autoAck{}
			r, _ := start(t, Config{}, em)
			code, body := post(t, r, tc.ct, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d %q, want 400 naming %s", code, body, tc.want)
			}
			if got := em.bodies(); len(got) != 0 {
				t.Fatalf("events of a refused request emitted: %q", got)
			}
		})
	}
}

func TestBodyLimitAndRefusals(t *testing.T) {
	r, _ := start(t, Config{MaxBodyBytes: 1000}, &autoAck{})
	if code, body := post(t, r, "text/plain", strings.Repeat("x\n", 600)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %q, want 413", code, body)
	}
	if code, _ := post(t, r, "text/plain", strings.Repeat("x\n", 400)); code != http.StatusOK {
		t.Fatalf("status %d under the limit", code)
	}
	if code, _ := post(t, r, "application/xml", "<a/>"); code != http.StatusUnsupportedMediaType {
		t.Fatalf("xml: status %d, want 415", code)
	}
	resp, err := http.Get("http://" + r.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: status %d", resp.StatusCode)
	}
}

type result struct {
	code int
	body string
}

func TestAnswerAfterAck(t *testing.T) {
	em := make(chanEmitter)
	r, _ := start(t, Config{MaxBatch: 2}, em)
	res := make(chan result, 1)
	go func() {
		c, b := post(t, r, "text/plain", "a\nb\nc\n")
		res <- result{c, b}
	}()
	var batches []batch
	for range 2 { // 3 events in batches of 2
		select {
		case b := <-em:
			batches = append(batches, b)
		case <-time.After(10 * time.Second):
			t.Fatal("no batch")
		}
	}
	batches[1].ack(nil)
	select {
	case got := <-res:
		t.Fatalf("answered %d with a batch not acked", got.code)
	case <-time.After(200 * time.Millisecond):
	}
	batches[0].ack(nil)
	got := <-res
	if got.code != http.StatusOK || !strings.Contains(got.body, `"accepted":3`) {
		t.Fatalf("status %d %q", got.code, got.body)
	}
}

func TestAckErrorIs503(t *testing.T) {
	em := make(chanEmitter)
	r, _ := start(t, Config{}, em)
	res := make(chan result, 1)
	go func() {
		c, b := post(t, r, "text/plain", "a\n")
		res <- result{c, b}
	}()
	(<-em).ack(errors.New("spool full"))
	if got := <-res; got.code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", got.code)
	}
}

func TestStopWhileWaitingForAck(t *testing.T) {
	em := make(chanEmitter)
	r, stop := start(t, Config{}, em)
	res := make(chan result, 1)
	go func() {
		c, b := post(t, r, "text/plain", "a\n")
		res <- result{c, b}
	}()
	b := <-em
	stop()
	if got := <-res; got.code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", got.code)
	}
	b.ack(nil)
}

func TestConfigValidate(t *testing.T) {
	c := Config{Topic: "logs"}
	if err := c.Validate(); err != nil || c.Listen != DefaultListen || c.MaxBodyBytes != DefaultMaxBodyBytes || c.Host == "" {
		t.Fatalf("defaults: %v %+v", err, c)
	}
	for _, bad := range []Config{{}, {Topic: "l", Listen: "x"}, {Topic: "l", MaxBodyBytes: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
