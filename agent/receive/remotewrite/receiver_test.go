package remotewrite

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/internal/rwtest"
)

type batch struct {
	recs []source.Record
	ack  func(error)
}

// chanEmitter hands every batch to the test, which acks it.
type chanEmitter chan batch

func (c chanEmitter) Emit(ctx context.Context, recs []source.Record, ack func(error)) error {
	select {
	case c <- batch{recs, ack}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func series(job, instance, name string, v float64) prompb.TimeSeries {
	return prompb.TimeSeries{
		Labels:  []prompb.Label{{Name: "__name__", Value: name}, {Name: "instance", Value: instance}, {Name: "job", Value: job}},
		Samples: []prompb.Sample{{Value: v, Timestamp: 1700000000000}},
	}
}

func encode(t testing.TB, wr *prompb.WriteRequest) []byte {
	t.Helper()
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

// start runs a receiver on a free port; the returned stop ends Run and
// waits for it.
func start(t *testing.T, cfg Config, e source.Emitter) (*Receiver, func()) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.Topic == "" {
		cfg.Topic = "metrics"
	}
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

func post(t *testing.T, r *Receiver, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	return rwtest.Post(t, "http://"+r.Addr().String()+Path, body, hdr)
}

type result struct {
	code int
	body string
}

func postAsync(t *testing.T, r *Receiver, body []byte) chan result {
	res := make(chan result, 1)
	go func() {
		code, b := post(t, r, body, nil)
		res <- result{code, b}
	}()
	return res
}

func nextBatch(t *testing.T, c chanEmitter) batch {
	t.Helper()
	select {
	case b := <-c:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no batch emitted")
		return batch{}
	}
}

func TestSplitByTargetAndAckBeforeAnswer(t *testing.T) {
	em := make(chanEmitter)
	r, _ := start(t, Config{Fields: map[string]string{"dc": "eu1"}}, em)
	wr := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("node", "a:9100", "up", 1),
		series("api", "b:8080", "up", 0),
		series("node", "a:9100", "node_load1", 0.5),
	}}
	res := postAsync(t, r, encode(t, wr))
	b := nextBatch(t, em)

	select {
	case got := <-res:
		t.Fatalf("answered %d before the ack", got.code)
	case <-time.After(200 * time.Millisecond):
	}
	if len(b.recs) != 2 {
		t.Fatalf("got %d records, want 2 (one per target)", len(b.recs))
	}
	want := map[string][]string{"node/a:9100": {"up", "node_load1"}, "api/b:8080": {"up"}}
	for i, rec := range b.recs {
		if rec.Topic != "metrics" || rec.Properties[source.PropContentType] != source.ContentTypeWriteRequest ||
			rec.Properties["dc"] != "eu1" || rec.Properties[source.PropSource] != DefaultName {
			t.Errorf("record %d: topic %q properties %v", i, rec.Topic, rec.Properties)
		}
		var got prompb.WriteRequest
		if err := got.Unmarshal(rec.Body); err != nil {
			t.Fatalf("record %d body: %v", i, err)
		}
		names := want[rec.Key]
		if len(got.Timeseries) != len(names) {
			t.Fatalf("key %q: %d series, want %v", rec.Key, len(got.Timeseries), names)
		}
		for j, ts := range got.Timeseries {
			if ts.Labels[0].Value != names[j] || ts.Samples[0].Timestamp != 1700000000000 {
				t.Errorf("key %q series %d: %v", rec.Key, j, ts)
			}
		}
	}
	if b.recs[0].Key != "node/a:9100" {
		t.Errorf("first record key %q, want the first target seen", b.recs[0].Key)
	}
	b.ack(nil)
	got := <-res
	if got.code != http.StatusNoContent {
		t.Fatalf("status %d %q, want 204", got.code, got.body)
	}
}

func TestAckErrorIs5xx(t *testing.T) {
	em := make(chanEmitter)
	r, _ := start(t, Config{}, em)
	res := postAsync(t, r, encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("j", "i", "up", 1)}}))
	nextBatch(t, em).ack(errors.New("broker refused"))
	got := <-res
	if got.code < 500 {
		t.Fatalf("status %d, want 5xx", got.code)
	}
}

func TestAckTimeoutIs5xx(t *testing.T) {
	em := make(chanEmitter)
	r, _ := start(t, Config{AckTimeout: 100 * time.Millisecond}, em)
	res := postAsync(t, r, encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("j", "i", "up", 1)}}))
	b := nextBatch(t, em)
	got := <-res
	if got.code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", got.code)
	}
	b.ack(nil) // a late ack must not block
}

func TestRefusals(t *testing.T) {
	r, _ := start(t, Config{MaxDecodedBytes: 1 << 20}, make(chanEmitter))
	valid := encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("j", "i", "up", 1)}})
	// A snappy block whose header announces 1 GiB but carries nothing:
	// refused from the header alone.
	huge := binary.AppendUvarint(nil, 1<<30)
	for _, tc := range []struct {
		name string
		body []byte
		hdr  map[string]string
		want int
	}{
		{"not snappy", []byte("\xff\xff\xff\xff\xff\xff"), nil, 400},
		{"snappy of garbage", snappy.Encode(nil, []byte("\x0a\xff\xff\xff")), nil, 400},
		{"truncated", valid[:len(valid)-2], nil, 400},
		{"announces 1 GiB", huge, nil, 413},
		{"gzip", valid, map[string]string{"Content-Encoding": "gzip"}, 415},
		{"json", valid, map[string]string{"Content-Type": "application/json"}, 415},
		{"remote write 2.0", valid, map[string]string{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}, 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, r, tc.body, tc.hdr)
			if code != tc.want {
				t.Fatalf("status %d %q, want %d", code, body, tc.want)
			}
		})
	}
	resp, err := http.Get("http://" + r.Addr().String() + Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: status %d, want 405", resp.StatusCode)
	}
}

func TestOversizedNotAllocated(t *testing.T) {
	huge := binary.AppendUvarint(nil, 1<<30)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := DecodeWriteRequest(huge, DefaultMaxDecodedBytes); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
	runtime.ReadMemStats(&after)
	// Only the error is allocated, never a buffer of the announced size.
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("%d bytes allocated refusing a block announcing 1 GiB", d)
	}
}

func TestStopWhileWaitingForAck(t *testing.T) {
	em := make(chanEmitter)
	r, stop := start(t, Config{}, em)
	res := postAsync(t, r, encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("j", "i", "up", 1)}}))
	b := nextBatch(t, em)
	stop()
	got := <-res
	if got.code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 when stopping before the ack", got.code)
	}
	b.ack(nil)
}

func TestConfigValidate(t *testing.T) {
	var c Config
	if err := c.Validate(); err == nil {
		t.Fatal("no error without a topic")
	}
	c = Config{Topic: "m"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.MaxDecodedBytes != DefaultMaxDecodedBytes || c.AckTimeout != DefaultAckTimeout {
		t.Fatalf("defaults not filled: %+v", c)
	}
	c = Config{Topic: "m", Listen: "nope"}
	if err := c.Validate(); err == nil {
		t.Fatal("no error for a bad listen address")
	}
}
