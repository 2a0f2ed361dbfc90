package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// Defaults of ConsumerConfig.
const (
	DefaultSessionTimeout = 10 * time.Second
	DefaultMaxWait        = 2 * time.Second
)

// ConsumerConfig configures a Consumer. Group and Topic are required; every
// other zero field takes its default.
type ConsumerConfig struct {
	Group string
	Topic string
	// Mode is "clustering" (the default: the group's members share the
	// queues, the broker keeps the offsets) or "broadcasting" (every member
	// gets every message and keeps its own progress).
	Mode string
	// StartFrom is where a group without committed offsets starts:
	// "earliest" (the default), "latest", or an RFC 3339 time.
	StartFrom string
	// Tags filters messages by tag: "A || B"; empty or "*" for all.
	Tags string
	// SessionTimeout is how long the broker keeps a member that stopped
	// heartbeating before moving its queues. Default 10s.
	SessionTimeout time.Duration
	// MaxWait is how long one fetch waits at the broker for new messages
	// (long poll). Default 2s.
	MaxWait time.Duration
	// MaxBytes bounds one fetch from one queue. Default 4 MiB.
	MaxBytes int
	// OffsetsFile, in broadcasting mode, is where the member keeps its
	// progress across restarts (written atomically on each commit).
	// Empty: in memory only.
	OffsetsFile string
}

// Validate reports a field that cannot work.
func (c *ConsumerConfig) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("group is required"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("topic is required"))
	}
	switch c.Mode {
	case "", protocol.ModeClustering, protocol.ModeBroadcasting:
	default:
		errs = append(errs, fmt.Errorf("mode %q: want %s or %s", c.Mode, protocol.ModeClustering, protocol.ModeBroadcasting))
	}
	switch c.StartFrom {
	case "", "earliest", "latest":
	default:
		if _, err := time.Parse(time.RFC3339, c.StartFrom); err != nil {
			errs = append(errs, fmt.Errorf("start from %q: want earliest, latest or an RFC 3339 time", c.StartFrom))
		}
	}
	if _, err := protocol.ParseTagFilter(c.Tags); err != nil {
		errs = append(errs, err)
	}
	if c.SessionTimeout < 0 || c.MaxWait < 0 || c.MaxBytes < 0 {
		errs = append(errs, errors.New("session timeout, max wait and max bytes must not be negative"))
	}
	if c.OffsetsFile != "" && c.Mode != protocol.ModeBroadcasting {
		errs = append(errs, errors.New("offsets file is for broadcasting mode; in clustering mode the broker keeps the offsets"))
	}
	return errors.Join(errs...)
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.Mode == "" {
		c.Mode = protocol.ModeClustering
	}
	if c.StartFrom == "" {
		c.StartFrom = "earliest"
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultFetchBytes
	}
	return c
}

// Consumer is a member of a consumer group on one topic. It joins the
// group and heartbeats in the background, fetches the queues the broker
// assigns it (one long-poll fetch per queue at a time), and follows
// re-assignments. Poll returns messages; Commit records progress. Poll and
// Commit are meant for one goroutine; Close may be called from any.
type Consumer struct {
	c      *Client
	cfg    ConsumerConfig
	filter protocol.TagFilter
	ctx    context.Context // cancelled by Close: stops every goroutine
	cancel context.CancelFunc
	wg     sync.WaitGroup

	results chan fetchResult // from the fetchers, to Poll
	errs    chan error       // errors for Poll to return; the latest one waits
	kick    chan struct{}    // asks the membership goroutine to heartbeat now
	fileMu  sync.Mutex       // serializes writes of OffsetsFile

	mu       sync.Mutex
	memberID string
	gen      int64
	hbEvery  time.Duration
	fetchers map[uint32]*fetcher
	polled   map[uint32]int64 // next offsets of what Poll returned, for Consume
	progress map[uint32]int64 // broadcasting: committed progress

	closeOnce sync.Once
}

// fetcher fetches one assigned queue.
type fetcher struct {
	queue  uint32
	cancel context.CancelFunc
}

type fetchResult struct {
	f    *fetcher
	msgs []Message
	next int64
}

// NewConsumer returns a consumer that joins cfg.Group in the background;
// it does not wait for the broker. Errors that retrying cannot fix (a
// refused join, an undecodable fetch) are returned by Poll.
func (c *Client) NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("consumer config: %w", err)
	}
	cfg = cfg.withDefaults()
	filter, _ := protocol.ParseTagFilter(cfg.Tags) // checked by Validate
	cons := &Consumer{
		c: c, cfg: cfg, filter: filter,
		results:  make(chan fetchResult),
		errs:     make(chan error, 1),
		kick:     make(chan struct{}, 1),
		hbEvery:  cfg.SessionTimeout / 3,
		fetchers: make(map[uint32]*fetcher),
		polled:   make(map[uint32]int64),
		progress: make(map[uint32]int64),
	}
	if cfg.OffsetsFile != "" {
		offs, err := readOffsetsFile(cfg.OffsetsFile, cfg.Group, cfg.Topic)
		if err != nil {
			return nil, err
		}
		cons.progress = offs
	}
	cons.ctx, cons.cancel = context.WithCancel(context.Background())
	if err := c.adopt(cons); err != nil {
		cons.cancel()
		return nil, err
	}
	cons.wg.Add(1)
	go cons.run()
	return cons, nil
}

// Poll waits until messages are available and returns them, in order per
// queue. It returns ctx's error when ctx ends first, ErrClosed once the
// consumer is closed, and errors that retrying cannot fix.
func (cons *Consumer) Poll(ctx context.Context) ([]Message, error) {
	var parts [][]Message // the fetches taken, joined at the end
	for {
		select {
		case r := <-cons.results:
			parts = cons.take(r, parts)
		case err := <-cons.errs:
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-cons.ctx.Done():
			return nil, ErrClosed
		}
		for more := true; more; {
			select {
			case r := <-cons.results:
				parts = cons.take(r, parts)
			default:
				more = false
			}
		}
		if len(parts) > 0 {
			return join(parts), nil
		}
	}
}

// join returns the messages of parts in one slice: the one part itself
// when there is one, as there mostly is, rather than a copy.
func join(parts [][]Message) []Message {
	if len(parts) == 1 {
		return parts[0]
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]Message, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// take accepts a fetch result unless its queue was taken away meanwhile.
func (cons *Consumer) take(r fetchResult, parts [][]Message) [][]Message {
	cons.mu.Lock()
	defer cons.mu.Unlock()
	if cons.fetchers[r.f.queue] != r.f {
		return parts
	}
	cons.polled[r.f.queue] = r.next
	if len(r.msgs) == 0 {
		return parts
	}
	m := cons.c.m
	m.consumeMessages.Add(len(r.msgs))
	for i := range r.msgs {
		m.consumeBytes.Add(len(r.msgs[i].Body))
	}
	return append(parts, r.msgs)
}

// TakePolled returns, per queue, the next offset after everything Poll
// returned since the last call: what to pass to CommitOffsets once all of
// it is handled. It may be past the last message returned, over messages
// the tag filter dropped, so that a filtered subscription's lag shrinks.
func (cons *Consumer) TakePolled() map[uint32]int64 {
	cons.mu.Lock()
	defer cons.mu.Unlock()
	p := cons.polled
	cons.polled = make(map[uint32]int64)
	return p
}

// report hands err to Poll; an error Poll has not taken yet is replaced.
func (cons *Consumer) report(err error) {
	for {
		select {
		case cons.errs <- err:
			return
		default:
		}
		select {
		case <-cons.errs:
		default:
		}
	}
}

// Assignment returns the queues the consumer fetches, in order.
func (cons *Consumer) Assignment() []uint32 {
	cons.mu.Lock()
	defer cons.mu.Unlock()
	return slices.Sorted(maps.Keys(cons.fetchers))
}

// MemberID returns the member id the broker gave, or "" before joining.
func (cons *Consumer) MemberID() string {
	cons.mu.Lock()
	defer cons.mu.Unlock()
	return cons.memberID
}

// Commit records that msgs are consumed: for each queue, the offset after
// the highest message. See CommitOffsets.
func (cons *Consumer) Commit(ctx context.Context, msgs []Message) error {
	offs := make(map[uint32]int64)
	for i := range msgs {
		m := &msgs[i]
		if m.Topic != cons.cfg.Topic {
			return fmt.Errorf("commit a message of topic %s to a consumer of %s", m.Topic, cons.cfg.Topic)
		}
		if next, ok := offs[m.Queue]; !ok || m.Offset+1 > next {
			offs[m.Queue] = m.Offset + 1
		}
	}
	return cons.CommitOffsets(ctx, offs)
}

// CommitOffsets records progress: for each queue, the next offset to
// consume. In clustering mode the broker stores it; a queue that moved to
// another member is refused, dropped here, and reported by a *FencedError
// (errors.Is(err, ErrFenced)), which the caller may ignore: the new owner
// consumes from the last offsets committed. In broadcasting mode the
// member keeps its progress itself, in memory and in OffsetsFile.
func (cons *Consumer) CommitOffsets(ctx context.Context, offsets map[uint32]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	if cons.cfg.Mode == protocol.ModeBroadcasting {
		return cons.commitLocal(offsets)
	}
	return cons.commitBroker(ctx, offsets)
}

// Close leaves the group (its queues move to the other members at once)
// and stops the consumer's goroutines. It commits nothing.
func (cons *Consumer) Close() error {
	cons.closeOnce.Do(func() {
		// Cancelled under mu: adopt starts fetchers under mu after checking
		// the context, so none starts once Wait may be running.
		cons.mu.Lock()
		cons.cancel()
		cons.mu.Unlock()
		cons.wg.Wait()
		cons.mu.Lock()
		member := cons.memberID
		cons.fetchers = map[uint32]*fetcher{}
		cons.mu.Unlock()
		if member != "" && !cons.c.isClosed() {
			ctx, cancel := context.WithTimeout(context.Background(), min(5*time.Second, cons.c.cfg.RequestTimeout))
			err := cons.c.control(ctx, protocol.OpLeaveGroup,
				protocol.LeaveGroup{Group: cons.cfg.Group, Topic: cons.cfg.Topic, MemberID: member}, nil)
			cancel()
			if err != nil {
				// The session timeout moves the queues instead; nothing is lost.
				cons.c.lg.Info("leave group", "group", cons.cfg.Group, "topic", cons.cfg.Topic, "err", err)
			}
		}
		cons.c.disown(cons)
	})
	return nil
}
