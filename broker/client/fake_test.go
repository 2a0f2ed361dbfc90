package client

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/broker/protocol"
)

// fakeBroker speaks the wire protocol well enough to test the client
// without the real server: Hello, topics with a fixed queue count, produce
// with idempotence, and hooks to fail, drop or withhold answers.
type fakeBroker struct {
	t      testing.TB
	ln     net.Listener
	queues int
	wg     sync.WaitGroup

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	hellos  int
	firstOp []protocol.Op // the first op of every connection
	batches []fakeBatch
	stored  map[fakeSeq]protocol.ProduceResponse
	next    map[uint32]int64
	pos     int64
	// onProduce, if set, decides the fate of a produce request: an error
	// code to answer with, or drop to store the batch and then close the
	// connection without answering (a lost acknowledgement).
	onProduce func(req *protocol.ProduceRequest) (code protocol.Code, drop bool)
	// silent ops are never answered.
	silent map[protocol.Op]bool
	// hold, if set, delays produce answers until it is closed.
	hold chan struct{}
	// fetch, if set, answers fetch requests.
	fetch        func(req *protocol.FetchRequest) ([]byte, *protocol.Error)
	noAutoCreate bool // Hello says producers may not create topics
	// topicMissing makes DescribeTopic fail with CodeUnknownTopic until
	// CreateTopic is called.
	topicMissing bool
	creates      int
}

type fakeSeq struct {
	pid   uint64
	queue uint32
	seq   uint64
}

type fakeBatch struct {
	req  protocol.ProduceRequest // payload and keys cloned
	resp protocol.ProduceResponse
}

func newFakeBroker(t testing.TB, queues int) *fakeBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBroker{t: t, ln: ln, queues: queues, conns: map[net.Conn]struct{}{},
		stored: map[fakeSeq]protocol.ProduceResponse{}, next: map[uint32]int64{}, silent: map[protocol.Op]bool{}}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakeBroker) addr() string { return f.ln.Addr().String() }

func (f *fakeBroker) accept() {
	defer f.wg.Done()
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[nc] = struct{}{}
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(nc)
	}
}

func (f *fakeBroker) close() {
	f.ln.Close()
	f.dropConns()
	f.mu.Lock()
	if f.hold != nil {
		select {
		case <-f.hold:
		default:
			close(f.hold)
		}
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// dropConns closes every connection, as a broker restart would.
func (f *fakeBroker) dropConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for nc := range f.conns {
		nc.Close()
	}
}

func (f *fakeBroker) serve(nc net.Conn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, nc)
		f.mu.Unlock()
		nc.Close()
	}()
	fr := protocol.NewFrameReader(nc, 0)
	var wmu sync.Mutex
	send := func(h protocol.Header, body []byte, perr *protocol.Error) {
		h.Flags = protocol.FlagResponse
		if perr != nil {
			h.Flags |= protocol.FlagError
			body = perr.Append(nil)
		}
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = nc.Write(protocol.AppendFrame(nil, h, body))
	}
	for first := true; ; first = false {
		h, body, err := fr.Read()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				f.t.Logf("fake broker: %v", err)
			}
			return
		}
		f.mu.Lock()
		if first {
			f.firstOp = append(f.firstOp, h.Op)
		}
		silent := f.silent[h.Op]
		f.mu.Unlock()
		if silent {
			continue
		}
		resp, perr, drop := f.handle(h.Op, bytes.Clone(body))
		if drop {
			return
		}
		send(h, resp, perr)
	}
}

func (f *fakeBroker) handle(op protocol.Op, body []byte) ([]byte, *protocol.Error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op {
	case protocol.OpHello:
		f.hellos++
		return mustJSON(protocol.HelloResponse{Version: protocol.Version, BrokerID: "fake", AutoCreateTopics: !f.noAutoCreate}), nil, false
	case protocol.OpDescribeTopic:
		var r protocol.TopicRef
		_ = protocol.UnmarshalJSON(body, &r)
		if f.topicMissing {
			return nil, protocol.Errorf(protocol.CodeUnknownTopic, "topic %s does not exist", r.Name), false
		}
		return mustJSON(protocol.TopicInfo{Name: r.Name, Queues: f.queues}), nil, false
	case protocol.OpCreateTopic:
		f.creates++
		f.topicMissing = false
		return mustJSON(protocol.Empty{}), nil, false
	case protocol.OpProduce:
		return f.produceLocked(body)
	case protocol.OpFetch:
		var r protocol.FetchRequest
		if err := r.Decode(body); err != nil {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "%v", err), false
		}
		if f.fetch == nil {
			return nil, protocol.Errorf(protocol.CodeUnsupported, "no fetch"), false
		}
		out, perr := f.fetch(&r)
		return out, perr, false
	}
	return nil, protocol.Errorf(protocol.CodeUnsupported, "fake broker: %s", op), false
}

func (f *fakeBroker) produceLocked(body []byte) ([]byte, *protocol.Error, bool) {
	var req protocol.ProduceRequest
	if err := req.Decode(body); err != nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "%v", err), false
	}
	if protocol.PayloadCRC(req.Payload) != req.PayloadCRC {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "payload crc"), false
	}
	drop := false
	if f.onProduce != nil {
		var code protocol.Code
		if code, drop = f.onProduce(&req); code != 0 {
			return nil, protocol.Errorf(code, "injected"), false
		}
	}
	k := fakeSeq{req.ProducerID, req.Queue, req.Sequence}
	resp, dup := f.stored[k]
	if dup {
		resp.Duplicate = true
	} else {
		resp = protocol.ProduceResponse{BaseOffset: f.next[req.Queue], Pos: f.pos, StoredAtMs: 1}
		f.next[req.Queue] += int64(req.Count)
		f.pos += int64(len(req.Payload)) + 100
		f.stored[k] = resp
		req.Keys = slices.Clone(req.Keys)
		f.batches = append(f.batches, fakeBatch{req: req, resp: resp})
	}
	if hold := f.hold; hold != nil {
		f.mu.Unlock()
		<-hold
		f.mu.Lock()
	}
	return resp.Append(nil), nil, drop
}

// stored returns the batches stored so far.
func (f *fakeBroker) storedBatches() []fakeBatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

// messages decodes a stored batch.
func (b fakeBatch) messages(t testing.TB) []protocol.Message {
	t.Helper()
	raw, err := protocol.Decompress(b.req.Attr, b.req.Payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	it := protocol.NewMessageIter(raw, b.req.FirstBornMs)
	var v protocol.MessageView
	var out []protocol.Message
	for it.Next(&v) {
		out = append(out, v.Message())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (b fakeBatch) rawSize(t testing.TB) int {
	raw, err := protocol.Decompress(b.req.Attr, b.req.Payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(raw)
}

func mustJSON(v any) []byte {
	b, err := protocol.MarshalJSON(v)
	if err != nil {
		panic(err)
	}
	return b
}
