package client

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// DefaultFetchBytes is the default MaxBytes of a fetch.
const DefaultFetchBytes = 4 << 20

// FetchRequest asks for the messages of one queue from Offset on.
type FetchRequest struct {
	Topic  string
	Queue  uint32
	Offset int64
	// MaxBytes bounds the batches returned (at least one batch comes back
	// even if larger). Default 4 MiB.
	MaxBytes int
	// MaxWait is how long the broker may wait for messages when there are
	// none yet (long poll). Zero: answer at once.
	MaxWait time.Duration
	// Tags is a tag expression ("A || B"); empty or "*" for all messages.
	Tags string
	// Group and MemberID, if set, fetch as that member of a consumer
	// group: the broker serves only a queue the member owns, and answers
	// CodeFenced for one that moved away (CodeUnknownMember if it forgot
	// the member). Consumers set them; tools leave them empty.
	Group, MemberID string
}

// FetchResult is what a fetch found.
type FetchResult struct {
	// Messages are those at Offset or later matching Tags, in order.
	Messages []Message
	// Next is the offset to fetch next. It may be past the last message
	// returned when the broker skipped batches ruled out by the tags.
	Next int64
	// Min and High are the queue's offsets: [Min, High) are stored.
	Min, High int64
}

// Fetch reads one queue once. Most programs use a Consumer instead; Fetch
// is for tools that read a queue at a known offset without a group. An
// offset removed by retention is an error with protocol.CodeOffsetGone.
func (c *Client) Fetch(ctx context.Context, r FetchRequest) (FetchResult, error) {
	filter, err := protocol.ParseTagFilter(r.Tags)
	if err != nil {
		return FetchResult{}, err
	}
	return c.fetch(ctx, r, &filter)
}

// maxPresize bounds the messages a fetch's output is sized for before its
// records are decoded.
const maxPresize = 1 << 16

func (c *Client) fetch(ctx context.Context, r FetchRequest, filter *protocol.TagFilter) (FetchResult, error) {
	if r.MaxBytes <= 0 {
		r.MaxBytes = DefaultFetchBytes
	}
	wait := min(max(r.MaxWait, 0), time.Duration(math.MaxUint32)*time.Millisecond)
	req := protocol.FetchRequest{Topic: r.Topic, Queue: r.Queue, Offset: r.Offset,
		MaxBytes: uint32(min(r.MaxBytes, math.MaxUint32)), MaxWaitMs: uint32(wait.Milliseconds()), Tags: r.Tags,
		Group: r.Group, MemberID: r.MemberID}
	body, err := c.request(ctx, protocol.OpFetch, req.Append(nil), wait)
	if err != nil {
		return FetchResult{}, fmt.Errorf("fetch %s/%d at %d: %w", r.Topic, r.Queue, r.Offset, err)
	}
	var resp protocol.FetchResponse
	if err := resp.Decode(body); err != nil {
		return FetchResult{}, fmt.Errorf("fetch %s/%d at %d: %w", r.Topic, r.Queue, r.Offset, err)
	}
	out := FetchResult{Next: resp.Next, Min: resp.Min, High: resp.High}
	if filter.All() {
		filter = nil
	}
	d := recordDecoder{from: r.Offset, filter: filter}
	// The fetch's messages get their room at once rather than by
	// doubling, which copied them over and over. The counts are from the
	// wire and unchecked: they are bounded by the bytes (a message takes
	// several) and by maxPresize; decodeRecord grows past a wrong count.
	if n := min(protocol.CountMessages(resp.Records), len(resp.Records)/minMessageBytes, maxPresize); n > 0 {
		d.out = make([]Message, 0, n)
	}
	k := 0
	err = protocol.EachRecord(resp.Records, func(h *protocol.RecordHeader, payload []byte) error {
		pos := int64(-1)
		if k < len(resp.Positions) {
			pos = resp.Positions[k]
		}
		k++
		if h.Topic != r.Topic || h.Queue != r.Queue {
			return fmt.Errorf("record of %s/%d in the answer", h.Topic, h.Queue)
		}
		return d.decodeRecord(h, pos, payload)
	})
	if err == nil && len(resp.Positions) != 0 && len(resp.Positions) != k {
		err = fmt.Errorf("%d positions for %d records", len(resp.Positions), k)
	}
	if err != nil {
		return FetchResult{}, fmt.Errorf("fetch %s/%d at %d: %w", r.Topic, r.Queue, r.Offset, err)
	}
	out.Messages = d.out
	return out, nil
}
