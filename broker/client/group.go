package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// run owns the membership: it joins, heartbeats, follows re-assignments,
// and joins again (under the same member id) when the broker forgot the
// member, until the consumer closes.
func (cons *Consumer) run() {
	defer cons.wg.Done()
	for attempt := 0; ; {
		a, err := cons.join()
		if err != nil {
			if cons.ctx.Err() != nil {
				return
			}
			if !IsRetriable(err) && !isCode(err, protocol.CodeUnknownTopic) {
				cons.report(err)
			}
			cons.c.lg.Warn("join consumer group", "group", cons.cfg.Group, "topic", cons.cfg.Topic, "err", err)
			if !cons.c.bo.sleep(cons.ctx, attempt) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		cons.adopt(a, true)
		if !cons.heartbeatLoop() {
			return
		}
		// The membership is lost: stop fetching until joined again, and
		// resume from the committed offsets then.
		cons.mu.Lock()
		cons.dropAllLocked()
		cons.mu.Unlock()
	}
}

func (cons *Consumer) join() (protocol.Assignment, error) {
	cons.mu.Lock()
	member := cons.memberID
	cons.mu.Unlock()
	req := protocol.JoinGroup{
		Group: cons.cfg.Group, Topic: cons.cfg.Topic, MemberID: member, ClientID: cons.c.cfg.ClientID,
		Mode: cons.cfg.Mode, SessionTimeoutMs: cons.cfg.SessionTimeout.Milliseconds(),
		StartFrom: cons.cfg.StartFrom, Tags: cons.cfg.Tags,
	}
	var a protocol.Assignment
	if err := cons.c.control(cons.ctx, protocol.OpJoinGroup, req, &a); err != nil {
		return a, fmt.Errorf("join group %s on topic %s: %w", cons.cfg.Group, cons.cfg.Topic, err)
	}
	return a, nil
}

func (cons *Consumer) heartbeat(ctx context.Context) (protocol.Assignment, error) {
	cons.mu.Lock()
	req := protocol.Heartbeat{Group: cons.cfg.Group, Topic: cons.cfg.Topic, MemberID: cons.memberID, Generation: cons.gen}
	cons.mu.Unlock()
	var a protocol.Assignment
	if err := cons.c.control(ctx, protocol.OpHeartbeat, req, &a); err != nil {
		return a, fmt.Errorf("heartbeat in group %s on topic %s: %w", cons.cfg.Group, cons.cfg.Topic, err)
	}
	return a, nil
}

// heartbeatLoop heartbeats until the consumer closes (false) or the member
// must join again (true): the broker does not know it, or no heartbeat got
// through for a whole session, so the broker has let it go.
func (cons *Consumer) heartbeatLoop() bool {
	lastOK := time.Now()
	t := time.NewTimer(cons.heartbeatEvery())
	defer t.Stop()
	for {
		select {
		case <-cons.ctx.Done():
			return false
		case <-t.C:
		case <-cons.kick:
		}
		a, err := cons.heartbeat(cons.ctx)
		switch {
		case err == nil:
			lastOK = time.Now()
			cons.adopt(a, false)
		case cons.ctx.Err() != nil:
			return false
		case isCode(err, protocol.CodeUnknownMember, protocol.CodeUnknownGroup, protocol.CodeFenced):
			cons.c.lg.Info("consumer group membership lost; joining again", "group", cons.cfg.Group, "topic", cons.cfg.Topic, "err", err)
			return true
		default:
			if time.Since(lastOK) > cons.cfg.SessionTimeout {
				cons.c.lg.Warn("no heartbeat got through for a session; joining again", "group", cons.cfg.Group, "err", err)
				return true
			}
			cons.c.lg.Debug("heartbeat", "group", cons.cfg.Group, "err", err)
		}
		t.Reset(cons.heartbeatEvery())
	}
}

// heartbeatSoon asks the membership goroutine for a heartbeat now, to
// learn of a re-assignment without waiting for the next one.
func (cons *Consumer) heartbeatSoon() {
	select {
	case cons.kick <- struct{}{}:
	default:
	}
}

func (cons *Consumer) heartbeatEvery() time.Duration {
	cons.mu.Lock()
	defer cons.mu.Unlock()
	return max(cons.hbEvery, 10*time.Millisecond)
}

// adopt follows an assignment: fetching stops on queues no longer
// assigned and starts on new ones at the offset given (in broadcasting
// mode, at the member's own progress when it has some). Queues kept go on
// from where their fetcher is. A stale heartbeat answer (an older
// generation than one already adopted) is ignored.
func (cons *Consumer) adopt(a protocol.Assignment, joined bool) {
	cons.mu.Lock()
	defer cons.mu.Unlock()
	if cons.ctx.Err() != nil || (!joined && a.MemberID == cons.memberID && a.Generation < cons.gen) {
		return
	}
	cons.memberID, cons.gen = a.MemberID, a.Generation
	if a.HeartbeatMs > 0 {
		cons.hbEvery = time.Duration(a.HeartbeatMs) * time.Millisecond
	}
	want := make(map[uint32]int64, len(a.Queues))
	for _, qp := range a.Queues {
		want[qp.Queue] = qp.Offset
	}
	changed := false
	for q, f := range cons.fetchers {
		if _, ok := want[q]; !ok {
			f.cancel()
			delete(cons.fetchers, q)
			delete(cons.polled, q)
			changed = true
		}
	}
	for q, off := range want {
		if _, ok := cons.fetchers[q]; ok {
			continue
		}
		if p, ok := cons.progress[q]; ok && cons.cfg.Mode == protocol.ModeBroadcasting {
			off = p
		}
		cons.startFetcherLocked(q, off)
		changed = true
	}
	if changed {
		cons.c.m.rebalances.Inc()
		cons.c.lg.Debug("consumer assignment", "group", cons.cfg.Group, "topic", cons.cfg.Topic,
			"member", cons.memberID, "generation", cons.gen, "queues", slices.Sorted(maps.Keys(want)))
	}
}

func (cons *Consumer) dropAllLocked() {
	for q, f := range cons.fetchers {
		f.cancel()
		delete(cons.fetchers, q)
	}
	clear(cons.polled)
}

func (cons *Consumer) startFetcherLocked(q uint32, offset int64) {
	ctx, cancel := context.WithCancel(cons.ctx)
	f := &fetcher{queue: q, cancel: cancel}
	cons.fetchers[q] = f
	cons.wg.Add(1)
	go cons.fetchLoop(ctx, f, offset)
}

// fetchLoop long-polls one queue and hands each non-empty result to Poll,
// waiting for Poll to take it before fetching on.
func (cons *Consumer) fetchLoop(ctx context.Context, f *fetcher, offset int64) {
	defer cons.wg.Done()
	defer f.cancel()
	req := FetchRequest{Topic: cons.cfg.Topic, Queue: f.queue, MaxBytes: cons.cfg.MaxBytes,
		MaxWait: cons.cfg.MaxWait, Tags: cons.cfg.Tags, Group: cons.cfg.Group}
	for attempt := 0; ctx.Err() == nil; {
		req.Offset = offset
		req.MemberID = cons.MemberID()
		start := time.Now()
		res, err := cons.c.fetch(ctx, req, &cons.filter)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isCode(err, protocol.CodeFenced, protocol.CodeUnknownMember) {
				// The queue moved, or the broker forgot the member: the
				// next heartbeat says which; it stops this fetcher or
				// joins again.
				cons.heartbeatSoon()
			}
			if isCode(err, protocol.CodeOffsetGone) {
				if lo, err2 := cons.queueMin(ctx, f.queue); err2 == nil {
					cons.c.lg.Warn("offset removed by retention; skipping to the oldest kept", "topic", cons.cfg.Topic,
						"queue", f.queue, "from", offset, "to", lo)
					offset = max(lo, offset)
					continue
				}
			}
			if !IsRetriable(err) && !isCode(err, protocol.CodeUnknownTopic, protocol.CodeOffsetGone,
				protocol.CodeFenced, protocol.CodeUnknownMember) {
				cons.report(err)
			}
			cons.c.lg.Debug("fetch", "topic", cons.cfg.Topic, "queue", f.queue, "err", err)
			if !cons.c.bo.sleep(ctx, attempt) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		if len(res.Messages) == 0 && res.Next <= offset {
			// Nothing new. A broker that answers at once instead of
			// holding the poll must not make this loop spin.
			if time.Since(start) < cons.cfg.MaxWait/4 && !cons.c.bo.sleep(ctx, 0) {
				return
			}
			continue
		}
		select {
		case cons.results <- fetchResult{f: f, msgs: res.Messages, next: res.Next}:
		case <-ctx.Done():
			return
		}
		offset = max(res.Next, offset)
	}
}

// queueMin returns the oldest offset the broker keeps on a queue.
func (cons *Consumer) queueMin(ctx context.Context, q uint32) (int64, error) {
	info, err := cons.c.DescribeTopic(ctx, cons.cfg.Topic)
	if err != nil {
		return 0, err
	}
	for _, qi := range info.QueueInfo {
		if qi.Queue == q {
			return qi.Min, nil
		}
	}
	return 0, fmt.Errorf("topic %s has no queue %d", cons.cfg.Topic, q)
}

// commitBroker commits offsets as the member. When the broker fences the
// commit (some queue moved), the consumer learns its current assignment,
// commits the queues still its own, and reports the others.
func (cons *Consumer) commitBroker(ctx context.Context, offsets map[uint32]int64) error {
	err := cons.commitAsMember(ctx, offsets)
	if err == nil || !isCode(err, protocol.CodeFenced, protocol.CodeUnknownMember) {
		return err
	}
	all := slices.Sorted(maps.Keys(offsets))
	fenced := &FencedError{Group: cons.cfg.Group, Topic: cons.cfg.Topic, Queues: all, Err: err}
	if isCode(err, protocol.CodeUnknownMember) {
		return fenced // the heartbeat loop finds out and joins again
	}
	a, herr := cons.heartbeat(ctx)
	if herr != nil {
		return fenced
	}
	cons.adopt(a, false)
	owned := make(map[uint32]int64)
	var lost []uint32
	for _, q := range all {
		if slices.ContainsFunc(a.Queues, func(qp protocol.QueuePosition) bool { return qp.Queue == q }) {
			owned[q] = offsets[q]
		} else {
			lost = append(lost, q)
		}
	}
	if len(owned) > 0 {
		if err := cons.commitAsMember(ctx, owned); err != nil {
			if isCode(err, protocol.CodeFenced, protocol.CodeUnknownMember) {
				return fenced
			}
			return err
		}
	}
	if len(lost) == 0 {
		return nil
	}
	fenced.Queues = lost
	return fenced
}

func (cons *Consumer) commitAsMember(ctx context.Context, offsets map[uint32]int64) error {
	cons.mu.Lock()
	member, gen := cons.memberID, cons.gen
	cons.mu.Unlock()
	if member == "" {
		return &FencedError{Group: cons.cfg.Group, Topic: cons.cfg.Topic, Queues: slices.Sorted(maps.Keys(offsets)),
			Err: errors.New("not a member of the group (yet)")}
	}
	req := protocol.CommitOffsets{Group: cons.cfg.Group, Topic: cons.cfg.Topic, MemberID: member, Generation: gen}
	for _, q := range slices.Sorted(maps.Keys(offsets)) {
		req.Offsets = append(req.Offsets, protocol.QueuePosition{Queue: q, Offset: offsets[q]})
	}
	if err := cons.c.control(ctx, protocol.OpCommitOffsets, req, nil); err != nil {
		return fmt.Errorf("commit offsets of group %s on topic %s: %w", cons.cfg.Group, cons.cfg.Topic, err)
	}
	cons.c.m.commits.Inc()
	return nil
}
