package server

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store"
)

const (
	// dedupWindow is how many recent sequences are remembered per
	// (producer, topic, queue): a producer may have at most this many
	// batches of one queue in flight for its retries to be recognised.
	dedupWindow = 32
	// dedupScanBatches is how many of the newest batches of every queue
	// Start reads to rebuild the table after a restart.
	dedupScanBatches = 256
	// dedupScanBytes bounds what that scan reads per queue.
	dedupScanBytes = 64 << 20
	// dedupIdle forgets producers not seen for that long; dedupSweepEvery
	// says how many new producers trigger a sweep.
	dedupIdle       = time.Hour
	dedupSweepEvery = 1024
)

// producerKey is what sequences count within.
type producerKey struct {
	id    uint64
	topic string
	queue uint32
}

// dedupTable makes idempotent producers store each batch once: it
// remembers the response to the last dedupWindow sequences of each
// producer and queue, and lets only one request per sequence append, so a
// retry racing its original on another connection waits for it.
type dedupTable struct {
	mu       sync.Mutex
	entries  map[producerKey]*dedupEntry
	newSince int
}

type dedupEntry struct {
	mu       sync.Mutex
	done     [dedupWindow]seqResult // ring of the newest completed sequences
	next     int                    // where the next completed one goes
	inflight map[uint64]*seqCall
	lastUsed time.Time
}

type seqResult struct {
	seq  uint64 // 0: empty slot (sequences start at 1)
	resp protocol.ProduceResponse
}

type seqCall struct {
	done chan struct{}
	resp protocol.ProduceResponse
	err  error
}

func newDedupTable() *dedupTable { return &dedupTable{entries: map[producerKey]*dedupEntry{}} }

func (t *dedupTable) entry(k producerKey) *dedupEntry {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[k]
	if e == nil {
		e = &dedupEntry{inflight: map[uint64]*seqCall{}}
		t.entries[k] = e
		if t.newSince++; t.newSince >= dedupSweepEvery {
			t.sweepLocked(now)
		}
	}
	e.lastUsed = now
	return e
}

// sweepLocked forgets producers idle for dedupIdle.
func (t *dedupTable) sweepLocked(now time.Time) {
	t.newSince = 0
	for k, e := range t.entries {
		e.mu.Lock()
		idle := len(e.inflight) == 0 && now.Sub(e.lastUsed) > dedupIdle
		e.mu.Unlock()
		if idle {
			delete(t.entries, k)
		}
	}
}

// do runs appendFn for sequence seq of k unless seq was stored before, in
// which case it returns the first response marked Duplicate. If the same
// sequence is being appended right now, it waits for that append.
func (t *dedupTable) do(k producerKey, seq uint64, appendFn func() (protocol.ProduceResponse, error)) (protocol.ProduceResponse, error) {
	e := t.entry(k)
	e.mu.Lock()
	for {
		if r, ok := e.lookupLocked(seq); ok {
			e.mu.Unlock()
			r.Duplicate = true
			return r, nil
		}
		call := e.inflight[seq]
		if call == nil {
			break
		}
		e.mu.Unlock()
		<-call.done
		if call.err == nil {
			r := call.resp
			r.Duplicate = true
			return r, nil
		}
		e.mu.Lock() // the first try failed: this one may append
	}
	call := &seqCall{done: make(chan struct{})}
	e.inflight[seq] = call
	e.mu.Unlock()

	resp, err := appendFn()

	e.mu.Lock()
	delete(e.inflight, seq)
	if err == nil {
		e.addLocked(seq, resp)
	}
	e.mu.Unlock()
	call.resp, call.err = resp, err
	close(call.done)
	return resp, err
}

func (e *dedupEntry) lookupLocked(seq uint64) (protocol.ProduceResponse, bool) {
	for i := range e.done {
		if e.done[i].seq == seq && seq != 0 {
			return e.done[i].resp, true
		}
	}
	return protocol.ProduceResponse{}, false
}

func (e *dedupEntry) addLocked(seq uint64, resp protocol.ProduceResponse) {
	e.done[e.next] = seqResult{seq: seq, resp: resp}
	e.next = (e.next + 1) % dedupWindow
}

// forgetTopic drops the producers of a deleted topic: its offsets restart.
func (t *dedupTable) forgetTopic(topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.entries {
		if k.topic == topic {
			delete(t.entries, k)
		}
	}
}

// rebuild fills the table from the record headers of the newest batches of
// every queue, so that a producer retrying after a broker crash is still
// recognised.
func (t *dedupTable) rebuild(st *store.Store, lg *slog.Logger) error {
	start := time.Now()
	n := 0
	for _, q := range st.Queues() {
		batches, err := newestBatches(st, q)
		if err != nil {
			return fmt.Errorf("rebuild idempotent producers of %s: %w", q.QueueID, err)
		}
		for _, b := range batches {
			if b.ProducerID == 0 {
				continue
			}
			e := t.entry(producerKey{id: b.ProducerID, topic: q.Topic, queue: q.Queue})
			e.mu.Lock()
			e.addLocked(b.Sequence, b.resp)
			e.mu.Unlock()
			n++
		}
	}
	if n > 0 {
		lg.Info("idempotent producers recovered", "batches", n, "producers", len(t.entries), "took", time.Since(start))
	}
	return nil
}

type scannedBatch struct {
	ProducerID, Sequence uint64
	resp                 protocol.ProduceResponse
}

// newestBatches returns (up to) the last dedupScanBatches batches of a
// queue, oldest first. Offsets count messages, so it guesses how far back
// to start from the batches it has seen and widens until it has enough.
func newestBatches(st *store.Store, q store.QueueInfo) ([]scannedBatch, error) {
	back := int64(dedupScanBatches)
	for {
		from := max(q.Min, q.Next-back)
		out, err := scanQueue(st, q, from)
		if err != nil {
			return nil, err
		}
		if len(out) >= dedupScanBatches || from == q.Min {
			if len(out) > dedupScanBatches {
				out = out[len(out)-dedupScanBatches:]
			}
			return out, nil
		}
		perBatch := max(1, back/int64(max(1, len(out))))
		back = max(2*back, perBatch*dedupScanBatches*5/4)
	}
}

// scanQueue reads the batch headers of a queue from offset from to its end,
// at most dedupScanBytes; a corrupt batch is skipped (the store counted it).
func scanQueue(st *store.Store, q store.QueueInfo, from int64) ([]scannedBatch, error) {
	var out []scannedBatch
	var buf []byte
	read := 0
	for off := from; off < q.Next && read < dedupScanBytes; {
		res, err := st.Read(q.Topic, q.Queue, off, store.ReadOptions{MaxBytes: 4 << 20, Buf: buf})
		var ce *store.CorruptError
		switch {
		case errors.As(err, &ce) && ce.Next > off:
			off = ce.Next
			continue
		case errors.Is(err, store.ErrOffsetGone):
			return out, nil // retention ran meanwhile
		case err != nil:
			return nil, err
		}
		buf = res.Buf
		if len(res.Batches) == 0 {
			break
		}
		for _, b := range res.Batches {
			out = append(out, scannedBatch{ProducerID: b.ProducerID, Sequence: b.Sequence,
				resp: protocol.ProduceResponse{BaseOffset: b.BaseOffset, Pos: b.Pos, StoredAtMs: b.StoredAtMs}})
			read += int(b.Length)
		}
		off = res.Next
	}
	return out, nil
}
