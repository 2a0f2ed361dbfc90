package server

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/broker/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig is a config on a fresh directory with ephemeral ports.
func testConfig(t testing.TB) Config {
	return Config{
		Listen:        "127.0.0.1:0",
		HTTPListen:    "127.0.0.1:0",
		DataDir:       t.TempDir(),
		DiskFullRatio: 1, // the test machine's disk is not the subject
		BrokerID:      "test-broker",
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// start starts a server and closes it when the test ends.
func start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// shutdown stops s gracefully and fails the test on error.
func shutdown(t testing.TB, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// client is a raw protocol client: it writes frames and reads responses,
// with no logic of its own, so that tests see exactly what the server sends.
type client struct {
	t      testing.TB
	nc     net.Conn
	fr     *protocol.FrameReader
	wmu    sync.Mutex
	nextID atomic.Uint64
}

// dial connects without Hello.
func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, fr: protocol.NewFrameReader(nc, protocol.DefaultMaxFrame)}
}

// connect connects and says Hello.
func connect(t testing.TB, s *Server) *client {
	t.Helper()
	c := dial(t, s.Addr())
	var resp protocol.HelloResponse
	if err := c.callJSON(protocol.OpHello, protocol.Hello{Version: protocol.Version, ClientName: "test"}, &resp); err != nil {
		t.Fatalf("hello: %v", err)
	}
	if resp.BrokerID != "test-broker" || resp.Version != protocol.Version || resp.MaxFrame <= 0 {
		t.Fatalf("hello response %+v", resp)
	}
	return c
}

// send writes one request frame and returns its request id.
func (c *client) send(op protocol.Op, body []byte) uint64 {
	id := c.nextID.Add(1)
	c.writeRaw(protocol.AppendFrame(nil, protocol.Header{Op: op, RequestID: id}, body))
	return id
}

func (c *client) writeRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Errorf("write: %v", err)
	}
}

// read reads one response frame; an error response comes back as a
// *protocol.Error.
func (c *client) read() (protocol.Header, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	h, body, err := c.fr.Read()
	if err != nil {
		return h, nil, err
	}
	if !h.IsResponse() {
		c.t.Fatalf("frame %+v is not a response", h)
	}
	if h.IsError() {
		var pe protocol.Error
		if err := pe.Decode(body); err != nil {
			c.t.Fatalf("decode error body: %v", err)
		}
		return h, nil, &pe
	}
	return h, append([]byte(nil), body...), nil
}

// call sends a request and reads its response; only for connections with
// one request in flight.
func (c *client) call(op protocol.Op, body []byte) ([]byte, error) {
	c.t.Helper()
	id := c.send(op, body)
	h, resp, err := c.read()
	var pe *protocol.Error
	if err != nil && !errors.As(err, &pe) {
		c.t.Fatalf("%s: read response: %v", op, err)
	}
	if h.RequestID != id || h.Op != op {
		c.t.Fatalf("%s: response %+v to request %d", op, h, id)
	}
	return resp, err
}

func (c *client) callJSON(op protocol.Op, req, resp any) error {
	c.t.Helper()
	body, err := protocol.MarshalJSON(req)
	if err != nil {
		c.t.Fatal(err)
	}
	out, err := c.call(op, body)
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	if err := protocol.UnmarshalJSON(out, resp); err != nil {
		c.t.Fatalf("%s: decode response: %v", op, err)
	}
	return nil
}

func (c *client) produce(req *protocol.ProduceRequest) (protocol.ProduceResponse, error) {
	c.t.Helper()
	body, err := c.call(protocol.OpProduce, req.Append(nil))
	if err != nil {
		return protocol.ProduceResponse{}, err
	}
	var resp protocol.ProduceResponse
	if err := resp.Decode(body); err != nil {
		c.t.Fatalf("decode produce response: %v", err)
	}
	return resp, nil
}

func (c *client) mustProduce(req *protocol.ProduceRequest) protocol.ProduceResponse {
	c.t.Helper()
	resp, err := c.produce(req)
	if err != nil {
		c.t.Fatalf("produce: %v", err)
	}
	return resp
}

func (c *client) fetch(req protocol.FetchRequest) (protocol.FetchResponse, error) {
	c.t.Helper()
	body, err := c.call(protocol.OpFetch, req.Append(nil))
	if err != nil {
		return protocol.FetchResponse{}, err
	}
	var resp protocol.FetchResponse
	if err := resp.Decode(body); err != nil {
		c.t.Fatalf("decode fetch response: %v", err)
	}
	return resp, nil
}

func (c *client) mustFetch(req protocol.FetchRequest) protocol.FetchResponse {
	c.t.Helper()
	resp, err := c.fetch(req)
	if err != nil {
		c.t.Fatalf("fetch: %v", err)
	}
	return resp
}

func (c *client) createTopic(name string, queues int) {
	c.t.Helper()
	if err := c.callJSON(protocol.OpCreateTopic, protocol.CreateTopic{Name: name, Queues: queues}, nil); err != nil {
		c.t.Fatalf("create topic %s: %v", name, err)
	}
}

// expectClosed checks that the server closes the connection: the next
// read ends without another frame.
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, _, err := c.fr.Read()
	if err == nil {
		c.t.Fatalf("got frame %+v, want the connection closed", h)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open: %v", err)
	}
	// A reset counts as closed.
}

// wantCode checks that err is a broker error with code.
func wantCode(t testing.TB, err error, code protocol.Code) {
	t.Helper()
	if got := protocol.CodeOf(err); got != code {
		t.Fatalf("got error %v (code %s), want code %s", err, got, code)
	}
}

// batch builds a produce request of msgs for topic/queue.
func batch(topic string, queue uint32, msgs ...protocol.Message) *protocol.ProduceRequest {
	var b protocol.BatchBuilder
	b.Reset(topic)
	for i := range msgs {
		b.Add(&msgs[i], time.Now().UnixMilli())
	}
	out := b.Finish(true, nil)
	return &protocol.ProduceRequest{
		Topic: topic, Queue: queue, Count: out.Count, Attr: out.Attr,
		FirstBornMs: out.FirstBornMs, LastBornMs: out.LastBornMs, TagBloom: out.TagBloom,
		Keys: append([]protocol.KeyRef(nil), out.Keys...), Payload: out.Payload,
		PayloadCRC: protocol.PayloadCRC(out.Payload),
	}
}

// bodies makes messages with the given bodies.
func bodies(ss ...string) []protocol.Message {
	out := make([]protocol.Message, len(ss))
	for i, s := range ss {
		out[i] = protocol.Message{Body: []byte(s)}
	}
	return out
}

// fetched is a message decoded from a fetch response.
type fetched struct {
	protocol.Message
	Offset int64
	ID     string
}

// decodeFetch decodes the messages of a fetch response from offset on.
func decodeFetch(t testing.TB, resp protocol.FetchResponse, from int64) []fetched {
	t.Helper()
	var out []fetched
	k := 0
	err := protocol.EachRecord(resp.Records, func(h *protocol.RecordHeader, payload []byte) error {
		raw, err := protocol.Decompress(h.Attr, payload, nil)
		if err != nil {
			return err
		}
		it := protocol.NewMessageIter(raw, h.FirstBornMs)
		var v protocol.MessageView
		for i := uint32(0); it.Next(&v); i++ {
			if off := h.BaseOffset + int64(i); off >= from {
				out = append(out, fetched{Message: v.Message(), Offset: off, ID: protocol.MessageID(resp.Positions[k], i)})
			}
		}
		k++
		return it.Err()
	})
	if err != nil {
		t.Fatalf("decode fetched records: %v", err)
	}
	if k != len(resp.Positions) {
		t.Fatalf("%d records, %d positions", k, len(resp.Positions))
	}
	return out
}

// frame builds a raw frame header with any size, version and op.
func rawFrame(size uint32, version byte, op protocol.Op, id uint64, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, size)
	b = append(b, version, byte(op), 0, 0)
	b = binary.LittleEndian.AppendUint64(b, id)
	return append(b, body...)
}

// waitFor polls cond until it holds or 10s pass; for conditions that have
// no event to wait on, such as "the fetch is parked in its long poll".
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
