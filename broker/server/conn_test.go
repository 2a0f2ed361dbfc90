package server

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/broker/protocol"
)

func TestHelloRequired(t *testing.T) {
	s := start(t, testConfig(t))
	c := dial(t, s.Addr())
	body, _ := protocol.MarshalJSON(protocol.Empty{})
	_, err := c.call(protocol.OpListTopics, body)
	wantCode(t, err, protocol.CodeNoHello)
	c.expectClosed()
}

func TestHelloVersion(t *testing.T) {
	s := start(t, testConfig(t))
	c := dial(t, s.Addr())
	err := c.callJSON(protocol.OpHello, protocol.Hello{Version: protocol.Version + 1, ClientName: "future"}, nil)
	wantCode(t, err, protocol.CodeUnsupported)
	c.expectClosed()
}

// A frame the server cannot parse gets an error frame, then the connection
// closes; other connections are not affected.
func TestMalformedFrames(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxFrame = 1 << 20
	s := start(t, cfg)
	bystander := connect(t, s)
	bystander.createTopic("t", 1)

	helloBody, _ := protocol.MarshalJSON(protocol.Hello{Version: protocol.Version})
	produce := batch("t", 0, bodies("x")...).Append(nil)
	cases := []struct {
		name  string
		hello bool // say hello first
		raw   []byte
		code  protocol.Code
	}{
		// The size is checked first: "GET " reads as a huge frame.
		{"http request", false, []byte("GET / HTTP/1.1\r\nHost: broker\r\n\r\n"), protocol.CodeFrameTooLarge},
		{"garbage after hello", true, []byte("\x20\x00\x00\x00\xfe\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"), protocol.CodeBadRequest},
		{"bad version", true, rawFrame(12, 9, protocol.OpListTopics, 7, nil), protocol.CodeBadRequest},
		{"size below header", true, rawFrame(3, protocol.Version, protocol.OpListTopics, 7, nil), protocol.CodeBadRequest},
		{"oversized", true, rawFrame(1<<30, protocol.Version, protocol.OpProduce, 7, nil), protocol.CodeFrameTooLarge},
		{"oversized before hello", false, rawFrame(2<<20, protocol.Version, protocol.OpHello, 7, nil), protocol.CodeFrameTooLarge},
		{"bad produce body", true, protocol.AppendFrame(nil, protocol.Header{Op: protocol.OpProduce, RequestID: 7}, produce[:len(produce)-1]), protocol.CodeBadRequest},
		{"trailing bytes in body", true, protocol.AppendFrame(nil, protocol.Header{Op: protocol.OpProduce, RequestID: 7}, append(produce, 0)), protocol.CodeBadRequest},
		{"bad json body", true, protocol.AppendFrame(nil, protocol.Header{Op: protocol.OpCreateTopic, RequestID: 7}, []byte("{nope")), protocol.CodeBadRequest},
		{"bad hello body", false, protocol.AppendFrame(nil, protocol.Header{Op: protocol.OpHello, RequestID: 7}, []byte("[")), protocol.CodeBadRequest},
		{"response frame", true, protocol.AppendFrame(nil, protocol.Header{Op: protocol.OpFetch, Flags: protocol.FlagResponse, RequestID: 7}, nil), protocol.CodeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.Addr())
			if tc.hello {
				if _, err := c.call(protocol.OpHello, helloBody); err != nil {
					t.Fatal(err)
				}
			}
			c.writeRaw(tc.raw)
			_, _, err := c.read()
			wantCode(t, err, tc.code)
			var pe *protocol.Error
			if errors.As(err, &pe) && pe.Message == "" {
				t.Error("error frame without a message")
			}
			c.expectClosed()

			// The other connection goes on.
			bystander.mustProduce(batch("t", 0, bodies(tc.name)...))
		})
	}
	resp := bystander.mustFetch(protocol.FetchRequest{Topic: "t"})
	if resp.High != int64(len(cases)) {
		t.Fatalf("bystander stored %d messages, want %d", resp.High, len(cases))
	}
}

func TestUnknownOp(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	_, err := c.call(protocol.Op(200), []byte("whatever"))
	wantCode(t, err, protocol.CodeUnsupported)
	// Still usable; a request without fields may have an empty body.
	body, err := c.call(protocol.OpListTopics, nil)
	if err != nil {
		t.Fatalf("list topics after unknown op: %v", err)
	}
	var list protocol.ListTopicsResponse
	if err := protocol.UnmarshalJSON(body, &list); err != nil || list.Topics == nil {
		t.Fatalf("list topics: %s %v", body, err)
	}
}

// Requests in flight on one connection are answered as they finish: a
// long poll sent first is answered after the produces sent behind it.
func TestManyInFlightOutOfOrder(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 2)

	pollID := c.send(protocol.OpFetch, (&protocol.FetchRequest{Topic: "t", Queue: 0, MaxWaitMs: 20000}).Append(nil))
	const n = 100
	ids := map[uint64]bool{}
	for i := range n {
		ids[c.send(protocol.OpProduce, batch("t", 1, bodies(string(rune('a'+i%26)))...).Append(nil))] = true
	}
	for range n {
		h, body, err := c.read()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if h.RequestID == pollID {
			t.Fatal("the long poll answered before the produces queued behind it")
		}
		if !ids[h.RequestID] || h.Op != protocol.OpProduce {
			t.Fatalf("unexpected response %+v", h)
		}
		delete(ids, h.RequestID)
		var r protocol.ProduceResponse
		if err := r.Decode(body); err != nil {
			t.Fatal(err)
		}
	}
	// Now wake the poll.
	prodID := c.send(protocol.OpProduce, batch("t", 0, bodies("wake")...).Append(nil))
	got := map[uint64][]byte{}
	for range 2 {
		h, body, err := c.read()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got[h.RequestID] = body
	}
	if _, ok := got[prodID]; !ok {
		t.Fatal("no answer to the last produce")
	}
	var fr protocol.FetchResponse
	if err := fr.Decode(got[pollID]); err != nil {
		t.Fatalf("long poll response: %v", err)
	}
	if m := decodeFetch(t, fr, 0); len(m) != 1 || string(m[0].Body) != "wake" {
		t.Fatalf("long poll got %v", m)
	}
}

// A request frame larger than all of MaxInflightBytes still runs (alone),
// and many concurrent produces above the limit all complete.
func TestBackPressure(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxInflightBytes = 64 << 10
	cfg.Flush = "async"
	s := start(t, cfg)
	c := connect(t, s)
	c.createTopic("t", 1)
	big := make([]byte, 100<<10)
	const n = 40
	for range n {
		c.send(protocol.OpProduce, batch("t", 0, protocol.Message{Body: big}).Append(nil))
	}
	for range n {
		if _, _, err := c.read(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	if used := s.sem.used(); used != 0 {
		t.Fatalf("%d bytes still held after every request finished", used)
	}
	if resp := c.mustFetch(protocol.FetchRequest{Topic: "t", MaxBytes: 1}); resp.High != n {
		t.Fatalf("stored %d batches, want %d", resp.High, n)
	}
}
