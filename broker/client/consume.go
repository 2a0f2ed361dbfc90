package client

import (
	"context"
	"errors"
	"time"
)

// commitOnStopTimeout bounds a commit made after ctx ended.
const commitOnStopTimeout = 5 * time.Second

// Handler processes a batch of messages. Returning nil commits them;
// returning an error has them handed again, after a back-off.
type Handler func(ctx context.Context, msgs []Message) error

// Consume runs a consumer of cfg and calls handler with what each Poll
// returns, until ctx ends (then it returns nil, after leaving the group)
// or an error that retrying cannot fix. Offsets are committed only after
// handler returned nil for the messages they cover, so every message is
// handled at least once: a handler error retries the same messages, with
// back-off, until it succeeds; nothing is skipped.
func (c *Client) Consume(ctx context.Context, cfg ConsumerConfig, handler Handler) error {
	cons, err := c.NewConsumer(cfg)
	if err != nil {
		return err
	}
	defer cons.Close()
	return cons.consume(ctx, handler)
}

func (cons *Consumer) consume(ctx context.Context, handler Handler) error {
	for {
		msgs, err := cons.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		// Everything Poll returned goes to the handler, so its positions
		// (past messages the tag filter dropped, too) are what to commit.
		offsets := cons.TakePolled()
		for attempt := 0; ; attempt++ {
			err := handler(ctx, msgs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			cons.c.lg.Warn("message handler failed; retrying the same messages", "group", cons.cfg.Group,
				"topic", cons.cfg.Topic, "messages", len(msgs), "attempt", attempt+1, "err", err)
			if !cons.c.bo.sleep(ctx, attempt) {
				return nil
			}
		}
		// The handler succeeded: commit even if ctx ended meanwhile, so a
		// shutdown does not make the next owner handle these again.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitOnStopTimeout)
		err = cons.CommitOffsets(cctx, offsets)
		cancel()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, ErrFenced), IsRetriable(err):
				// Moved queues are redelivered to their new owner; a commit
				// lost to the network is covered by the next one.
				cons.c.lg.Info("commit", "group", cons.cfg.Group, "topic", cons.cfg.Topic, "err", err)
			default:
				return err
			}
		}
	}
}
