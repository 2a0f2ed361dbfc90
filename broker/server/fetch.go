package server

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store"
)

const (
	// maxFetchWait caps a long poll.
	maxFetchWait = 30 * time.Second
	// defaultFetchBytes is the fetch size when the request says 0.
	defaultFetchBytes = 1 << 20
	// maxFetchBatches bounds the batches of one response.
	maxFetchBatches = 1024
	// fetchOverhead is room for the frame and fetch response headers.
	fetchOverhead = protocol.FrameHeaderSize + 3*8 + 2*10 + 8*maxFetchBatches
	// maxPooledBuf is the largest read buffer kept for reuse.
	maxPooledBuf = 8 << 20
)

// readBufs recycles fetch read buffers between responses.
var readBufs = sync.Pool{New: func() any { return new([]byte) }}

func (s *Server) decodeFetch(body []byte) (handlerFunc, error) {
	req := new(protocol.FetchRequest)
	if err := req.Decode(body); err != nil {
		return nil, err
	}
	return func(c *conn) reply { return s.fetch(c, req) }, nil
}

// fetch reads a queue from req.Offset, waiting up to MaxWaitMs (at most
// maxFetchWait) for data when there is none. The records go out exactly
// as stored, straight from the read buffer.
//
// A corrupt batch is not served: the store logged and counted it, and the
// response skips it (no records, Next past it), so consumers go on.
func (s *Server) fetch(c *conn, req *protocol.FetchRequest) reply {
	tp := s.topics.get(req.Topic)
	if tp == nil {
		return reply{err: unknownTopic(req.Topic)}
	}
	if int(req.Queue) >= tp.queues {
		return reply{err: protocol.Errorf(protocol.CodeBadRequest, "fetch from %s/%d: the topic has %d queues", req.Topic, req.Queue, tp.queues)}
	}
	filter, err := protocol.ParseTagFilter(req.Tags)
	if err != nil {
		return reply{err: protocol.Errorf(protocol.CodeBadRequest, "fetch from %s/%d: %v", req.Topic, req.Queue, err)}
	}
	if err := s.checkOwner(req); err != nil {
		return reply{err: err}
	}
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 {
		maxBytes = defaultFetchBytes
	}
	maxBytes = min(maxBytes, s.cfg.MaxFrame-fetchOverhead)
	opt := store.ReadOptions{MaxBytes: maxBytes, MaxBatches: maxFetchBatches}
	if !filter.All() {
		opt.MatchTags = filter.MatchBloom
	}
	bufp := readBufs.Get().(*[]byte)
	opt.Buf = *bufp
	id := store.QueueID{Topic: req.Topic, Queue: req.Queue}
	wait := min(time.Duration(req.MaxWaitMs)*time.Millisecond, maxFetchWait)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
			s.m.longPolls.Dec()
		}
	}()
	offset := req.Offset
	for {
		var woken <-chan struct{}
		if wait > 0 {
			woken = s.notify.wait(id) // before the read, so no append is missed
		}
		res, err := s.store.Read(req.Topic, req.Queue, offset, opt)
		res, err = s.readOutcome(req, offset, res, err)
		if err != nil {
			putReadBuf(bufp, res.Buf)
			return reply{err: err}
		}
		opt.Buf = res.Buf
		offset = res.Next // batches skipped by the filter count as progress
		if len(res.Batches) > 0 || wait <= 0 {
			// A long poll may have outlived the member's ownership.
			if len(res.Batches) > 0 && timer != nil {
				if err := s.checkOwner(req); err != nil {
					putReadBuf(bufp, res.Buf)
					return reply{err: err}
				}
			}
			return s.fetchReply(req, res, bufp)
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			s.m.longPolls.Inc()
		}
		select {
		case <-woken:
			continue
		case <-timer.C:
		case <-c.ctx.Done():
		case <-s.quit:
		}
		return s.fetchReply(req, res, bufp)
	}
}

// checkOwner fences the fetch of a group member that does not own the
// queue (any more): see groups.Coordinator.CheckOwner.
func (s *Server) checkOwner(req *protocol.FetchRequest) error {
	if req.MemberID == "" {
		return nil
	}
	if err := s.groups.CheckOwner(req.Group, req.Topic, req.MemberID, req.Queue); err != nil {
		return fmt.Errorf("fetch from %s/%d: %w", req.Topic, req.Queue, err)
	}
	return nil
}

// readOutcome turns what the store said into a response or an error: a
// queue never written reads as empty; a corrupt batch is skipped.
func (s *Server) readOutcome(req *protocol.FetchRequest, offset int64, res store.ReadResult, err error) (store.ReadResult, error) {
	var ce *store.CorruptError
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, store.ErrUnknownQueue):
		if s.topics.get(req.Topic) == nil {
			return res, unknownTopic(req.Topic)
		}
		res.Next = offset
		return res, nil
	case errors.As(err, &ce) && ce.Next > offset:
		s.lg.Warn("fetch skips a corrupt batch", "topic", req.Topic, "queue", req.Queue, "offset", offset, "next", ce.Next, "err", err)
		res.Batches, res.Next = nil, ce.Next
		return res, nil
	case errors.Is(err, store.ErrOffsetGone):
		return res, protocol.Errorf(protocol.CodeOffsetGone, "fetch from %s/%d: %v", req.Topic, req.Queue, err)
	}
	return res, fmt.Errorf("fetch from %s/%d at %d: %w", req.Topic, req.Queue, offset, err)
}

func (s *Server) fetchReply(req *protocol.FetchRequest, res store.ReadResult, bufp *[]byte) reply {
	r := protocol.FetchResponse{Next: res.Next}
	if lo, hi, err := s.store.QueueRange(req.Topic, req.Queue); err == nil {
		r.Min, r.High = lo, hi
	}
	r.Positions = make([]int64, len(res.Batches))
	var n int
	for i, b := range res.Batches {
		r.Positions[i] = b.Pos
		n += int(b.Count)
		if i == 0 && req.Offset > b.BaseOffset {
			n -= int(min(req.Offset-b.BaseOffset, int64(b.Count)))
		}
	}
	s.m.fetchRequests.Inc()
	s.m.fetchBatches.Add(len(res.Batches))
	s.m.fetchMessages.Add(n)
	s.m.fetchBytes.Add(len(res.Buf))
	return reply{body: r.AppendHeader(make([]byte, 0, 40+8*len(r.Positions)), len(res.Buf)), tail: res.Buf,
		release: func() { putReadBuf(bufp, res.Buf) }}
}

func putReadBuf(bufp *[]byte, buf []byte) {
	if cap(buf) > maxPooledBuf {
		buf = nil
	}
	*bufp = buf[:0]
	readBufs.Put(bufp)
}
