package server

import (
	"container/list"
	"sync"

	"github.com/sluicehq/sluice/broker/store"
)

// byteSemaphore bounds the request bytes in flight over all connections.
// Waiters are served in order, so a large request is not starved by small
// ones.
type byteSemaphore struct {
	size    int64
	mu      sync.Mutex
	cur     int64
	waiters list.List // of *semWaiter
}

type semWaiter struct {
	n     int64
	ready chan struct{}
}

func newByteSemaphore(size int64) *byteSemaphore { return &byteSemaphore{size: size} }

// weight is what a request of n bytes takes: a request larger than the
// whole semaphore takes all of it, so it runs alone instead of never.
func (s *byteSemaphore) weight(n int) int64 { return min(int64(n), s.size) }

// acquire takes n bytes, waiting until they are free or cancel is closed;
// it reports whether it got them.
func (s *byteSemaphore) acquire(n int64, cancel <-chan struct{}) bool {
	s.mu.Lock()
	if s.size-s.cur >= n && s.waiters.Len() == 0 {
		s.cur += n
		s.mu.Unlock()
		return true
	}
	w := &semWaiter{n: n, ready: make(chan struct{})}
	elem := s.waiters.PushBack(w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-cancel:
		s.mu.Lock()
		select {
		case <-w.ready:
			// Granted while cancel fired: give it back.
			s.cur -= n
			s.notifyLocked()
		default:
			isFront := s.waiters.Front() == elem
			s.waiters.Remove(elem)
			if isFront {
				s.notifyLocked()
			}
		}
		s.mu.Unlock()
		return false
	}
}

// release returns n bytes.
func (s *byteSemaphore) release(n int64) {
	s.mu.Lock()
	s.cur -= n
	s.notifyLocked()
	s.mu.Unlock()
}

// used returns the bytes taken.
func (s *byteSemaphore) used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *byteSemaphore) notifyLocked() {
	for {
		front := s.waiters.Front()
		if front == nil {
			return
		}
		w := front.Value.(*semWaiter)
		if s.size-s.cur < w.n {
			return
		}
		s.cur += w.n
		s.waiters.Remove(front)
		close(w.ready)
	}
}

// notifier wakes long polls when their queue gets data. A waiter takes the
// queue's channel before it reads the store; an append closes and forgets
// it, so every waiter that read before the append wakes, and none that
// reads after can miss the data. A queue nobody waits on costs one map
// lookup per append.
type notifier struct {
	mu    sync.Mutex
	chans map[store.QueueID]chan struct{}
}

func newNotifier() *notifier { return &notifier{chans: map[store.QueueID]chan struct{}{}} }

// wait returns a channel closed by the next append to id.
func (n *notifier) wait(id store.QueueID) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := n.chans[id]
	if ch == nil {
		ch = make(chan struct{})
		n.chans[id] = ch
	}
	return ch
}

// appended wakes the waiters of id.
func (n *notifier) appended(id store.QueueID) {
	n.mu.Lock()
	ch := n.chans[id]
	if ch != nil {
		delete(n.chans, id)
	}
	n.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// forgetTopic wakes and forgets every waiter of a deleted topic.
func (n *notifier) forgetTopic(topic string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, ch := range n.chans {
		if id.Topic == topic {
			close(ch)
			delete(n.chans, id)
		}
	}
}
