package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// Defaults of ProducerConfig.
const (
	DefaultBatchBytes       = 1 << 20
	DefaultLinger           = 5 * time.Millisecond
	DefaultMaxBufferedBytes = 64 << 20
	DefaultDeliveryTimeout  = 2 * time.Minute
)

// ProducerConfig configures a Producer. The zero value works.
type ProducerConfig struct {
	// BatchBytes is the uncompressed size at which a batch is sent without
	// waiting for Linger. Default 1 MiB. A larger message is sent alone.
	BatchBytes int
	// Linger is how long a batch waits for more messages before it is
	// sent. Default 5ms. Negative: no wait; each Send or SendAsync call
	// sends what it added at once.
	Linger time.Duration
	// Compression of batches: "lz4" (the default) or "none". A batch is
	// compressed once, here; the broker stores it as it is.
	Compression string
	// MaxBufferedBytes bounds the messages sent but not yet acknowledged.
	// Beyond it Send and SendAsync block until acknowledgements make room.
	// Default 64 MiB.
	MaxBufferedBytes int
	// DeliveryTimeout bounds how long a batch is retried, counted from
	// its first message. Default 2 minutes.
	DeliveryTimeout time.Duration
}

// Validate reports a field that cannot work.
func (c *ProducerConfig) Validate() error {
	var errs []error
	if c.BatchBytes < 0 || c.BatchBytes > protocol.MaxBatchRaw {
		errs = append(errs, fmt.Errorf("batch bytes %d: want 0 (default) to %d", c.BatchBytes, protocol.MaxBatchRaw))
	}
	switch c.Compression {
	case "", "lz4", "none":
	default:
		errs = append(errs, fmt.Errorf("compression %q: want lz4 or none", c.Compression))
	}
	if c.MaxBufferedBytes < 0 {
		errs = append(errs, fmt.Errorf("max buffered bytes %d is negative", c.MaxBufferedBytes))
	}
	if c.DeliveryTimeout < 0 {
		errs = append(errs, fmt.Errorf("delivery timeout %v is negative", c.DeliveryTimeout))
	}
	return errors.Join(errs...)
}

func (c ProducerConfig) withDefaults() ProducerConfig {
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.Compression == "" {
		c.Compression = "lz4"
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = DefaultDeliveryTimeout
	}
	return c
}

// Result is where the broker stored a message.
type Result struct {
	Topic  string
	Queue  uint32
	Offset int64
	pos    int64
	index  uint32
}

// ID returns the message's ID, as consumers see it and GetMessage takes
// it. Only a result reported without error has one.
func (r Result) ID() string { return protocol.MessageID(r.pos, r.index) }

// Producer sends messages in batches, one stream of batches per (topic,
// queue), and reports each message's result once the broker has
// acknowledged it (after fsync with the broker's default flush mode). It is
// safe for concurrent use.
//
// Ordering: messages with the same key go to the same queue and, from one
// goroutine, are stored in the order sent. Messages without a key are
// spread round-robin, one batch at a time.
//
// Idempotence: each (topic, queue) stream has a producer id and numbers its
// batches 1, 2, 3...; a batch is retried with its number, one batch at a
// time per stream, so a batch whose acknowledgement was lost is stored
// once. After a batch fails for good the stream starts afresh under a new
// producer id.
type Producer struct {
	c        *Client
	cfg      ProducerConfig
	compress bool
	ctx      context.Context // cancelled when the producer stops for good
	cancel   context.CancelFunc
	stop     chan struct{} // closed by Close, stops the linger loop

	mu       sync.Mutex
	topics   map[string]*topicState
	parts    map[partKey]*partition
	buffered int64         // bytes of messages not yet acknowledged
	room     chan struct{} // closed and replaced whenever buffered drops
	closing  bool
	lq       []lingerEntry // open batches by linger deadline
	wake     chan struct{} // tells the linger loop that lq changed

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// topicState is what the producer knows of a topic.
type topicState struct {
	name   string
	queues int    // 0 until known
	sticky uint32 // the queue of messages without a key
	// lastKey went to queue lastQueue of lastQueues: consecutive messages
	// tend to share a key (the lines of a file), and hashing it for each
	// was 3% of an agent's CPU.
	lastKey    string
	lastQueue  uint32
	lastQueues int
	// Messages wait here while the queue count is looked up.
	waiting  []waitingMsg
	resolved chan struct{} // non-nil while a lookup runs; closed when it ends
}

type waitingMsg struct {
	m      Message
	a      ack
	size   int64
	bornMs int64
}

type lingerEntry struct {
	pt  *partition
	gen uint64
	at  time.Time
}

// ack is how one message's result is reported: a callback, or a slot of a
// Send call.
type ack struct {
	cb func(Result, error)
	w  *sendWaiter
	i  int
}

func (a *ack) deliver(r Result, err error) {
	switch {
	case a.w != nil:
		a.w.deliver(a.i, r, err)
	case a.cb != nil:
		a.cb(r, err)
	}
}

// sendWaiter collects the results of one Send call.
type sendWaiter struct {
	results []Result
	mu      sync.Mutex
	err     error
	left    int
	done    chan struct{}
}

func (w *sendWaiter) deliver(i int, r Result, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.results[i] = r
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("message %d of %d to topic %s: %w", i, len(w.results), r.Topic, err)
	}
	if w.left--; w.left == 0 {
		close(w.done)
	}
}

// NewProducer returns a producer sending through c. Close it (or c) to
// stop its goroutines.
func (c *Client) NewProducer(cfg ProducerConfig) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("producer config: %w", err)
	}
	cfg = cfg.withDefaults()
	p := &Producer{
		c:        c,
		cfg:      cfg,
		compress: cfg.Compression == "lz4",
		stop:     make(chan struct{}),
		topics:   make(map[string]*topicState),
		parts:    make(map[partKey]*partition),
		room:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if err := c.adopt(p); err != nil {
		p.cancel()
		return nil, err
	}
	p.wg.Add(1)
	go p.lingerLoop()
	return p, nil
}

// SendAsync queues msg and returns; cb (which may be nil) gets its result
// once the broker acknowledged it or it failed for good. It blocks only
// while MaxBufferedBytes are unacknowledged. cb runs on a producer
// goroutine (or on the caller's, for a message refused at once): it must
// not block, and must not send (it could wait for room that only its own
// return makes). msg.Body is not retained after SendAsync returns.
func (p *Producer) SendAsync(msg Message, cb func(Result, error)) {
	a := ack{cb: cb}
	now := int64(0) // only for a message without BornAt: time.Now per message was 5% of an agent's CPU
	if msg.BornAt.IsZero() {
		now = time.Now().UnixMilli()
	}
	if err := p.enqueue(context.Background(), &msg, a, now); err != nil {
		a.deliver(Result{Topic: msg.Topic}, err)
		return
	}
	if p.cfg.Linger < 0 {
		p.cutAll()
	}
}

// Send sends msgs and waits until every one is acknowledged or failed. The
// results are in the order of msgs; the error is the first failure's. If
// ctx ends first Send returns its error, and the messages may still be
// stored.
func (p *Producer) Send(ctx context.Context, msgs ...Message) ([]Result, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	w := &sendWaiter{results: make([]Result, len(msgs)), left: len(msgs), done: make(chan struct{})}
	now := time.Now().UnixMilli()
	for i := range msgs {
		err := ctx.Err()
		if err == nil {
			err = p.enqueue(ctx, &msgs[i], ack{w: w, i: i}, now)
		}
		if err != nil {
			w.deliver(i, Result{Topic: msgs[i].Topic}, err)
		}
	}
	if p.cfg.Linger < 0 {
		p.cutAll()
	}
	select {
	case <-w.done:
		return w.results, w.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// enqueue adds m to the batch of its queue, waiting for room first.
func (p *Producer) enqueue(ctx context.Context, m *Message, a ack, now int64) error {
	if m.Topic == "" {
		return errors.New("message without a topic")
	}
	size := int64(m.size())
	if size > protocol.MaxBatchRaw {
		return fmt.Errorf("message of %d bytes exceeds the %d byte batch limit", size, protocol.MaxBatchRaw)
	}
	bornMs := now
	if !m.BornAt.IsZero() {
		bornMs = m.BornAt.UnixMilli()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.waitRoomLocked(ctx, size); err != nil {
		return err
	}
	p.buffered += size
	t := p.topics[m.Topic]
	if t == nil {
		t = &topicState{name: m.Topic}
		p.topics[m.Topic] = t
	}
	if t.queues == 0 {
		cp := *m
		cp.Body = bytes.Clone(m.Body)
		cp.Properties = maps.Clone(m.Properties)
		t.waiting = append(t.waiting, waitingMsg{m: cp, a: a, size: size, bornMs: bornMs})
		if t.resolved == nil {
			t.resolved = make(chan struct{})
			p.wg.Add(1)
			go p.resolve(t)
		}
		return nil
	}
	p.addLocked(t, m, a, size, bornMs)
	return nil
}

// waitRoomLocked waits until size more bytes fit in the buffer. A message
// always fits in an empty buffer, however large.
func (p *Producer) waitRoomLocked(ctx context.Context, size int64) error {
	for {
		if p.closing {
			return ErrClosed
		}
		if p.buffered == 0 || p.buffered+size <= int64(p.cfg.MaxBufferedBytes) {
			return nil
		}
		ch := p.room
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			return ctx.Err()
		case <-p.ctx.Done():
			p.mu.Lock()
			return ErrClosed
		}
		p.mu.Lock()
	}
}

// releaseLocked gives back buffer room and wakes those waiting for it.
func (p *Producer) releaseLocked(n int64) {
	p.buffered -= n
	close(p.room)
	p.room = make(chan struct{})
}

// resolve looks up the queue count of t, then moves its waiting messages
// into batches, or fails them.
func (p *Producer) resolve(t *topicState) {
	defer p.wg.Done()
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.DeliveryTimeout)
	n, err := p.lookupQueues(ctx, t.name)
	cancel()

	p.mu.Lock()
	waiting := t.waiting
	t.waiting = nil
	done := t.resolved
	t.resolved = nil
	if err == nil {
		t.queues = n
		t.sticky %= uint32(n) // the topic may have been re-created smaller
		for i := range waiting {
			w := &waiting[i]
			p.addLocked(t, &w.m, w.a, w.size, w.bornMs)
		}
		if p.cfg.Linger < 0 {
			p.cutAllLocked()
		}
	} else {
		var n int64
		for _, w := range waiting {
			n += w.size
		}
		p.releaseLocked(n)
	}
	p.mu.Unlock()
	if err != nil {
		p.c.m.produceFailed.Add(len(waiting))
		for i := range waiting {
			waiting[i].a.deliver(Result{Topic: t.name}, err)
		}
	}
	close(done)
}

// lookupQueues returns the queue count of topic, creating the topic with
// the broker's default queue count if it does not exist and the broker
// allows producers to create topics (auto_create_topics).
func (p *Producer) lookupQueues(ctx context.Context, topic string) (int, error) {
	created := false
	for attempt := 0; ; {
		info, err := p.c.DescribeTopic(ctx, topic)
		if isCode(err, protocol.CodeUnknownTopic) && !created && p.c.autoCreate.Load() {
			err = p.c.CreateTopic(ctx, topic, 0)
			if err == nil || isCode(err, protocol.CodeTopicExists) {
				created = true
				continue
			}
		}
		if err == nil {
			if info.Queues <= 0 {
				return 0, fmt.Errorf("topic %s has %d queues", topic, info.Queues)
			}
			return info.Queues, nil
		}
		if !IsRetriable(err) || !p.c.bo.sleep(ctx, attempt) {
			return 0, err
		}
		attempt++
	}
}

// newProducerID returns a random non-zero producer id.
func newProducerID() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}
