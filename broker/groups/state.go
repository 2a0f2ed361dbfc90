package groups

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

// The state file; its format is described in doc.go.
const (
	stateFileName = "groups.json"
	stateVersion  = 1
)

// writeRetryDelay is how long the flusher waits before retrying a failed
// write when no new change kicks it earlier.
const writeRetryDelay = time.Second

type stateJSON struct {
	Version       int        `json:"version"`
	Subscriptions []subState `json:"subscriptions"`
}

type subState struct {
	Group      string        `json:"group"`
	Topic      string        `json:"topic"`
	Mode       string        `json:"mode"`
	Tags       string        `json:"tags,omitempty"`
	StartFrom  string        `json:"start_from,omitempty"`
	Generation int64         `json:"generation"`
	Offsets    []offsetState `json:"offsets,omitempty"`
}

type offsetState struct {
	Queue  uint32 `json:"queue"`
	Offset int64  `json:"offset"`
}

// decodeState parses and checks a state file's content. Anything it does not
// understand is an error: offsets are never dropped silently.
func decodeState(b []byte) ([]subState, error) {
	var st stateJSON
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("version %d, want %d", st.Version, stateVersion)
	}
	seen := make(map[subKey]bool, len(st.Subscriptions))
	for i, s := range st.Subscriptions {
		if err := errors.Join(validName("group", s.Group), validName("topic", s.Topic)); err != nil {
			return nil, fmt.Errorf("subscription %d: %w", i, err)
		}
		k := subKey{s.Group, s.Topic}
		if seen[k] {
			return nil, fmt.Errorf("group %s on topic %s appears twice", s.Group, s.Topic)
		}
		seen[k] = true
		if s.Mode != protocol.ModeClustering && s.Mode != protocol.ModeBroadcasting {
			return nil, fmt.Errorf("group %s on topic %s: mode %q", s.Group, s.Topic, s.Mode)
		}
		if _, err := parseStart(s.StartFrom, true); err != nil {
			return nil, fmt.Errorf("group %s on topic %s: start_from: %w", s.Group, s.Topic, err)
		}
		if s.Generation < 0 {
			return nil, fmt.Errorf("group %s on topic %s: negative generation %d", s.Group, s.Topic, s.Generation)
		}
		for _, o := range s.Offsets {
			if o.Offset < 0 {
				return nil, fmt.Errorf("group %s on topic %s: queue %d: negative offset %d",
					s.Group, s.Topic, o.Queue, o.Offset)
			}
		}
	}
	return st.Subscriptions, nil
}

// subscriptionsFromState turns decoded state into subscriptions without
// members.
func subscriptionsFromState(subs []subState) map[subKey]*subscription {
	m := make(map[subKey]*subscription, len(subs))
	for _, ss := range subs {
		s := newSubscription(ss.Group, ss.Topic, ss.Mode, ss.Tags, ss.StartFrom)
		s.generation = ss.Generation
		for _, o := range ss.Offsets {
			s.committed[o.Queue] = o.Offset
		}
		m[subKey{ss.Group, ss.Topic}] = s
	}
	return m
}

// encodeLocked renders the persisted part of the state: subscriptions and
// committed offsets, sorted so that equal states give equal files.
func (c *Coordinator) encodeLocked() ([]byte, error) {
	st := stateJSON{Version: stateVersion, Subscriptions: make([]subState, 0, len(c.subs))}
	for _, s := range c.subs {
		ss := subState{Group: s.group, Topic: s.topic, Mode: s.mode, Tags: s.tags,
			StartFrom: s.startFrom, Generation: s.generation}
		for q, off := range s.committed {
			ss.Offsets = append(ss.Offsets, offsetState{Queue: q, Offset: off})
		}
		slices.SortFunc(ss.Offsets, func(a, b offsetState) int { return cmp.Compare(a.Queue, b.Queue) })
		st.Subscriptions = append(st.Subscriptions, ss)
	}
	slices.SortFunc(st.Subscriptions, func(a, b subState) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Topic, b.Topic))
	})
	return json.MarshalIndent(st, "", " ")
}

// load reads the state file, if any, into c.subs. It runs in Open, before
// anything else can see c.
func (c *Coordinator) load() error {
	if err := c.fs.MkdirAll(c.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("groups: create dir %s: %w", c.cfg.Dir, err)
	}
	// A leftover temporary file is a write that a crash interrupted before
	// its rename: the state file still holds the previous state.
	if tmp := c.path + ".tmp"; vfs.Exists(c.fs, tmp) {
		if err := c.fs.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("groups: remove interrupted write %s: %w", tmp, err)
		}
	}
	b, err := vfs.ReadFile(c.fs, c.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("groups: read state file %s: %w", c.path, err)
	}
	subs, err := decodeState(b)
	if err != nil {
		return fmt.Errorf("groups: state file %s is corrupt (it holds the groups' committed offsets; "+
			"restore it or move it away to start every group afresh): %w", c.path, err)
	}
	c.subs = subscriptionsFromState(subs)
	c.log.Info("loaded consumer groups", "file", c.path, "subscriptions", len(subs))
	return nil
}

// markDirtyLocked records a change of the persisted state and wakes the
// flusher. The change is durable once durableSeq reaches the returned seq;
// attempts is the number of finished writes so far (see waitDurable).
func (c *Coordinator) markDirtyLocked() (seq, attempts uint64) {
	c.dirtySeq++
	c.kickFlusher()
	return c.dirtySeq, c.attempts
}

// pendingLocked is markDirtyLocked for a request that changed nothing: it
// must still wait until the equal state already in memory is durable.
func (c *Coordinator) pendingLocked() (seq, attempts uint64) {
	if c.durableSeq < c.dirtySeq {
		c.kickFlusher()
	}
	return c.dirtySeq, c.attempts
}

func (c *Coordinator) kickFlusher() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// waitDurable waits until state change seq is on disk. It fails with the
// write error if a write that began after the change (attempts counts the
// writes finished before it) covered it and failed; the flusher retries and
// the change stays in memory, so a client retrying the request succeeds
// once the disk recovers.
func (c *Coordinator) waitDurable(ctx context.Context, seq, attempts uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.durableSeq >= seq {
			return nil
		}
		if c.attempts > attempts && c.failedSeq >= seq {
			return fmt.Errorf("%w: %w", protocol.Errorf(protocol.CodeStoreFailed, "persist group state"), c.writeErr)
		}
		if c.flusherDone {
			return errClosed()
		}
		ch := c.flushed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			c.mu.Lock()
			return fmt.Errorf("wait for group state to be durable: %w", ctx.Err())
		}
		c.mu.Lock()
	}
}

// flushLoop is the flusher goroutine: it writes the state whenever it is
// dirty. Changes made while a write runs are covered by the next one, so
// many concurrent commits share one write and its fsyncs (group commit).
func (c *Coordinator) flushLoop() {
	defer c.wg.Done()
	retry := time.NewTimer(writeRetryDelay)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-c.kick:
		case <-retry.C:
		case <-c.stop:
			c.closeErr = c.writeOnce()
			c.mu.Lock()
			c.flusherDone = true
			c.notifyLocked()
			c.mu.Unlock()
			return
		}
		if err := c.writeOnce(); err != nil {
			retry.Reset(writeRetryDelay)
		}
	}
}

// writeOnce writes the state if it is dirty and wakes the waiters.
func (c *Coordinator) writeOnce() error {
	c.mu.Lock()
	if c.durableSeq >= c.dirtySeq {
		c.mu.Unlock()
		return nil
	}
	seq := c.dirtySeq
	data, err := c.encodeLocked()
	c.mu.Unlock()

	if err == nil {
		err = vfs.WriteFileAtomic(c.fs, c.path, data)
	}
	if err != nil {
		err = fmt.Errorf("write group state %s: %w", c.path, err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts++
	c.m.stateWrites.Inc()
	if err != nil {
		c.m.stateWriteErrors.Inc()
		c.failedSeq, c.writeErr = seq, err
		c.log.Error("group state not persisted; will retry", "err", err)
	} else {
		c.durableSeq = seq
	}
	c.notifyLocked()
	return err
}

// notifyLocked wakes everyone in waitDurable.
func (c *Coordinator) notifyLocked() {
	close(c.flushed)
	c.flushed = make(chan struct{})
}

func statePath(dir string) string { return filepath.Join(dir, stateFileName) }
