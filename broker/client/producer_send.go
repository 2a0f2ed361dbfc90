package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

type partKey struct {
	topic string
	queue uint32
}

// partition is the stream of batches of one (topic, queue). Fields but the
// send buffers are guarded by Producer.mu; at most one goroutine sends its
// batches at a time, in order.
type partition struct {
	key partKey
	pid uint64 // producer id of the stream
	seq uint64 // sequence of the last batch sent

	// The open batch, filling up; b is nil when none is open.
	b           *protocol.BatchBuilder
	acks        []ack
	bytes       int64
	deliverAtMs int64
	openedAt    time.Time
	gen         uint64 // counts opened batches, to match linger entries

	ready   []*batch // cut, waiting to be sent
	sending bool     // a sendLoop runs for the partition
	last    *batch   // the last batch cut, until it completes
	spare   []ack    // a recycled acks slice

	// Owned by the sending goroutine.
	payload []byte
	body    []byte
	// skipLZ4 counts batches sent uncompressed before lz4 is tried again,
	// after a batch that lz4 could not shrink.
	skipLZ4 int
}

// Adaptive compression: a batch that lz4 shrinks by less than a tenth
// (random, encrypted or already compressed bodies) costs most of a
// producer's CPU for nothing, so the next incompressibleSkip batches of
// the queue go uncompressed; then lz4 is tried again, since data changes.
const incompressibleSkip = 16

// batch is a cut batch on its way to the broker.
type batch struct {
	b           *protocol.BatchBuilder // released once encoded
	acks        []ack
	bytes       int64
	deliverAtMs int64
	deadline    time.Time
	done        chan struct{} // closed once every ack is delivered
}

var builderPool = sync.Pool{New: func() any { return new(protocol.BatchBuilder) }}

// addLocked appends a message to the open batch of its queue, opening or
// cutting batches as needed.
func (p *Producer) addLocked(t *topicState, m *Message, a ack, size, bornMs int64) {
	q := t.sticky
	if m.Key != "" {
		if m.Key != t.lastKey || t.lastQueues != t.queues || t.lastKey == "" {
			t.lastKey, t.lastQueues = m.Key, t.queues
			t.lastQueue = uint32(protocol.KeyHash(t.name, m.Key) % uint64(t.queues))
		}
		q = t.lastQueue
	}
	pt := p.partLocked(t.name, q)
	deliverAt := timeToMs(m.DeliverAt)
	if pt.b != nil && (pt.deliverAtMs != deliverAt || int64(pt.b.Size())+size > int64(p.cfg.BatchBytes)) {
		p.cutLocked(pt)
	}
	if pt.b == nil {
		p.openLocked(pt, deliverAt)
	}
	pm := protocol.Message{Key: m.Key, Tags: m.Tags, Properties: m.Properties, Shared: m.Shared, Extra: m.Extra, Body: m.Body, BornMs: bornMs}
	pt.b.Add(&pm, bornMs)
	pt.acks = append(pt.acks, a)
	pt.bytes += size
	if pt.b.Size() >= p.cfg.BatchBytes {
		p.cutLocked(pt)
	}
}

func (p *Producer) partLocked(topic string, q uint32) *partition {
	k := partKey{topic, q}
	pt := p.parts[k]
	if pt == nil {
		pt = &partition{key: k, pid: newProducerID()}
		p.parts[k] = pt
	}
	return pt
}

func (p *Producer) openLocked(pt *partition, deliverAtMs int64) {
	pt.b = builderPool.Get().(*protocol.BatchBuilder)
	pt.b.Reset(pt.key.topic)
	pt.acks, pt.spare = pt.spare[:0], nil
	pt.bytes, pt.deliverAtMs = 0, deliverAtMs
	pt.openedAt = time.Now()
	pt.gen++
	if p.cfg.Linger > 0 {
		p.lq = append(p.lq, lingerEntry{pt: pt, gen: pt.gen, at: pt.openedAt.Add(p.cfg.Linger)})
		if len(p.lq) == 1 {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
}

// cutLocked closes the open batch of pt and queues it for sending.
func (p *Producer) cutLocked(pt *partition) {
	b := &batch{b: pt.b, acks: pt.acks, bytes: pt.bytes, deliverAtMs: pt.deliverAtMs,
		deadline: pt.openedAt.Add(p.cfg.DeliveryTimeout), done: make(chan struct{})}
	pt.b, pt.acks, pt.bytes = nil, nil, 0
	pt.ready = append(pt.ready, b)
	pt.last = b
	// Messages without a key move on to the next queue, one batch at a
	// time, which keeps batches large.
	if t := p.topics[pt.key.topic]; t != nil && t.sticky == pt.key.queue && t.queues > 0 {
		t.sticky = (t.sticky + 1) % uint32(t.queues)
	}
	if !pt.sending {
		pt.sending = true
		p.wg.Add(1)
		go p.sendLoop(pt)
	}
}

func (p *Producer) cutAll() {
	p.mu.Lock()
	p.cutAllLocked()
	p.mu.Unlock()
}

func (p *Producer) cutAllLocked() {
	for _, pt := range p.parts {
		if pt.b != nil {
			p.cutLocked(pt)
		}
	}
}

// sendLoop sends the ready batches of pt one after the other, and exits
// when there are none left.
func (p *Producer) sendLoop(pt *partition) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(pt.ready) == 0 {
			pt.sending = false
			p.mu.Unlock()
			return
		}
		b := pt.ready[0]
		pt.ready[0] = nil
		pt.ready = pt.ready[1:]
		pt.seq++
		pid, seq := pt.pid, pt.seq
		p.mu.Unlock()

		body, count := p.encode(pt, b, pid, seq)
		resp, err := p.deliver(pt, b, body)
		p.complete(pt, b, count, len(body), resp, err)
	}
}

// encode compresses b and encodes its produce request into pt's buffers.
func (p *Producer) encode(pt *partition, b *batch, pid, seq uint64) ([]byte, uint32) {
	compress := p.compress && pt.skipLZ4 == 0
	if pt.skipLZ4 > 0 {
		pt.skipLZ4--
	}
	raw := b.b.Size()
	fin := b.b.Finish(compress, pt.payload)
	pt.payload = fin.Payload
	if compress && (fin.Attr&protocol.AttrLZ4 == 0 || len(fin.Payload) > raw-raw/10) {
		pt.skipLZ4 = incompressibleSkip
		p.c.m.incompressible.Inc()
	}
	attr := fin.Attr
	if b.deliverAtMs != 0 {
		attr |= protocol.AttrDelayed
	}
	req := protocol.ProduceRequest{
		Topic: pt.key.topic, Queue: pt.key.queue, ProducerID: pid, Sequence: seq,
		Count: fin.Count, Attr: attr, FirstBornMs: fin.FirstBornMs, LastBornMs: fin.LastBornMs,
		DeliverAtMs: b.deliverAtMs, TagBloom: fin.TagBloom, Keys: fin.Keys,
		PayloadCRC: protocol.PayloadCRC(fin.Payload), Payload: fin.Payload,
	}
	pt.body = req.Append(pt.body[:0])
	builderPool.Put(b.b) // fin.Keys alias it: done with them
	b.b = nil
	return pt.body, fin.Count
}

// deliver sends one batch until the broker acknowledges it, retrying
// with the same sequence while the error is retriable and the batch's
// delivery timeout has not passed.
func (p *Producer) deliver(pt *partition, b *batch, body []byte) (protocol.ProduceResponse, error) {
	var resp protocol.ProduceResponse
	ctx, cancel := context.WithDeadline(p.ctx, b.deadline)
	defer cancel()
	start := time.Now()
	var lastErr error
	for attempt := 0; ; attempt++ {
		out, err := p.c.request(ctx, protocol.OpProduce, body, 0)
		if err == nil {
			if err := resp.Decode(out); err != nil {
				return resp, fmt.Errorf("produce to %s/%d: response: %w", pt.key.topic, pt.key.queue, err)
			}
			p.c.m.ackLatency.UpdateDuration(start)
			return resp, nil
		}
		if !ctxDone(err) {
			lastErr = err
		}
		if !IsRetriable(err) || ctx.Err() != nil {
			return resp, p.deliveryError(pt, err, lastErr)
		}
		p.c.m.produceRetries.Inc()
		p.c.lg.Debug("produce retry", "topic", pt.key.topic, "queue", pt.key.queue, "attempt", attempt+1, "err", err)
		if !p.c.bo.sleep(ctx, attempt) {
			return resp, p.deliveryError(pt, ctx.Err(), lastErr)
		}
	}
}

// deliveryError says why a batch failed for good: err, or, when the
// delivery timeout passed or the producer stopped, that and the last error
// the broker gave.
func (p *Producer) deliveryError(pt *partition, err, lastErr error) error {
	switch {
	case p.ctx.Err() != nil:
		err = fmt.Errorf("producer stopped: %w", ErrClosed)
	case ctxDone(err) && lastErr != nil:
		err = fmt.Errorf("delivery timeout %v passed; last error: %w", p.cfg.DeliveryTimeout, lastErr)
	case ctxDone(err):
		err = fmt.Errorf("delivery timeout %v passed: %w", p.cfg.DeliveryTimeout, err)
	}
	return fmt.Errorf("produce to %s/%d: %w", pt.key.topic, pt.key.queue, err)
}

// complete reports a batch's outcome to each of its messages.
func (p *Producer) complete(pt *partition, b *batch, count uint32, n int, resp protocol.ProduceResponse, err error) {
	p.mu.Lock()
	p.releaseLocked(b.bytes)
	if err != nil {
		// The broker may or may not have stored the batch: a new stream
		// keeps later batches from being taken for its duplicates.
		pt.pid, pt.seq = newProducerID(), 0
	}
	if t := p.topics[pt.key.topic]; isCode(err, protocol.CodeUnknownTopic) && t != nil && t.resolved == nil {
		t.queues = 0 // deleted: look it up again for the next message
	}
	if pt.last == b {
		pt.last = nil
	}
	p.mu.Unlock()

	m := p.c.m
	if err != nil {
		m.produceFailed.Add(len(b.acks))
	} else {
		m.produceBatches.Inc()
		m.produceMessages.Add(int(count))
		m.produceBytes.Add(n)
	}
	for i := range b.acks {
		r := Result{Topic: pt.key.topic, Queue: pt.key.queue}
		if err == nil {
			r.Offset, r.pos, r.index = resp.BaseOffset+int64(i), resp.Pos, uint32(i)
		}
		b.acks[i].deliver(r, err)
		b.acks[i] = ack{}
	}
	close(b.done)

	p.mu.Lock()
	if pt.spare == nil {
		pt.spare = b.acks[:0]
	}
	p.mu.Unlock()
}

// lingerLoop cuts batches whose linger has passed.
func (p *Producer) lingerLoop() {
	defer p.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		p.mu.Lock()
		now := time.Now()
		for len(p.lq) > 0 && !p.lq[0].at.After(now) {
			e := p.lq[0]
			p.lq[0] = lingerEntry{}
			p.lq = p.lq[1:]
			if e.pt.b != nil && e.pt.gen == e.gen {
				p.cutLocked(e.pt)
			}
		}
		wait := time.Hour
		if len(p.lq) > 0 {
			wait = p.lq[0].at.Sub(now)
		}
		p.mu.Unlock()
		t.Reset(wait)
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.wake:
		}
	}
}

// Flush sends every message queued before it and waits until each is
// acknowledged or failed (their results say which), or until ctx ends.
func (p *Producer) Flush(ctx context.Context) error {
	for {
		p.mu.Lock()
		var resolving chan struct{}
		for _, t := range p.topics {
			if t.resolved != nil {
				resolving = t.resolved
				break
			}
		}
		if resolving != nil {
			p.mu.Unlock()
			select {
			case <-resolving:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		p.cutAllLocked()
		var last []chan struct{}
		for _, pt := range p.parts {
			if pt.last != nil {
				last = append(last, pt.last.done)
			}
		}
		p.mu.Unlock()
		for _, done := range last {
			select {
			case <-done:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
}

// Close stops taking messages, flushes those queued (each batch is retried
// at most until its delivery timeout; if the Client is closed they fail at
// once), and stops the producer's goroutines.
func (p *Producer) Close() error {
	p.closeOnce.Do(func() {
		if p.c.isClosed() {
			p.cancel()
		}
		p.mu.Lock()
		p.closing = true
		p.releaseLocked(0) // wake senders waiting for room: they fail now
		p.mu.Unlock()
		_ = p.Flush(context.Background())
		p.cancel()
		close(p.stop)
		p.wg.Wait()
		p.c.disown(p)
	})
	return nil
}
