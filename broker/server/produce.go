package server

import (
	"fmt"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store"
	"github.com/sluicehq/sluice/broker/store/record"
)

// decodeProduce decodes a produce request; the payload aliases body,
// which the handler owns.
func (s *Server) decodeProduce(body []byte) (handlerFunc, error) {
	req := new(protocol.ProduceRequest)
	if err := req.Decode(body); err != nil {
		return nil, err
	}
	return func(c *conn) reply {
		resp, err := s.produce(req)
		if err != nil {
			return reply{err: err}
		}
		return reply{body: resp.Append(make([]byte, 0, 32))}
	}, nil
}

// produce checks and stores one batch, once per producer sequence.
func (s *Server) produce(req *protocol.ProduceRequest) (protocol.ProduceResponse, error) {
	if got := protocol.PayloadCRC(req.Payload); got != req.PayloadCRC {
		return protocol.ProduceResponse{}, protocol.Errorf(protocol.CodeCorrupt,
			"produce to %s/%d: payload crc %08x, the producer sent %08x: damaged in transit", req.Topic, req.Queue, got, req.PayloadCRC)
	}
	// What the store would refuse is the producer's mistake, not a store
	// failure: say so with CodeBadRequest.
	h := record.Header{Topic: req.Topic, Count: req.Count, Attr: req.Attr, Keys: req.Keys}
	if err := h.Validate(len(req.Payload)); err != nil {
		return protocol.ProduceResponse{}, protocol.Errorf(protocol.CodeBadRequest, "produce to %s/%d: %v", req.Topic, req.Queue, err)
	}
	tp, err := s.topicForProduce(req.Topic)
	if err != nil {
		return protocol.ProduceResponse{}, err
	}
	defer tp.appendMu.RUnlock()
	if int(req.Queue) >= tp.queues {
		return protocol.ProduceResponse{}, protocol.Errorf(protocol.CodeBadRequest,
			"produce to %s/%d: the topic has %d queues", req.Topic, req.Queue, tp.queues)
	}
	if s.cfg.produceHook != nil {
		s.cfg.produceHook()
	}
	if req.ProducerID == 0 {
		return s.appendBatch(req)
	}
	key := producerKey{id: req.ProducerID, topic: req.Topic, queue: req.Queue}
	resp, err := s.dedup.do(key, req.Sequence, func() (protocol.ProduceResponse, error) { return s.appendBatch(req) })
	if resp.Duplicate {
		s.m.produceDuplicates.Inc()
	}
	return resp, err
}

// appendBatch stores the batch and wakes the long polls of its queue.
func (s *Server) appendBatch(req *protocol.ProduceRequest) (protocol.ProduceResponse, error) {
	app, err := s.store.Append(s.hardCtx, &store.Batch{
		Topic: req.Topic, Queue: req.Queue, Count: req.Count, Attr: req.Attr,
		ProducerID: req.ProducerID, Sequence: req.Sequence,
		FirstBornMs: req.FirstBornMs, LastBornMs: req.LastBornMs, DeliverAtMs: req.DeliverAtMs,
		TagBloom: req.TagBloom, Keys: req.Keys, Payload: req.Payload,
		PayloadCRC: req.PayloadCRC, HasPayloadCRC: true,
	})
	if err != nil {
		return protocol.ProduceResponse{}, fmt.Errorf("produce to %s/%d: %w", req.Topic, req.Queue, err)
	}
	s.notify.appended(store.QueueID{Topic: req.Topic, Queue: req.Queue})
	s.m.produceBatches.Inc()
	s.m.produceMessages.Add(int(req.Count))
	s.m.produceBytes.Add(len(req.Payload))
	return protocol.ProduceResponse{BaseOffset: app.BaseOffset, Pos: app.Pos, StoredAtMs: app.StoredAtMs}, nil
}
