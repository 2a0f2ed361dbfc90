package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"

	"github.com/sluicehq/sluice/broker/store/record"
)

const (
	benchMessages = 1000
	benchMsgSize  = 200
)

// benchPayloads returns n lz4-compressed batches of 1,000 log lines of 200
// bytes each, length-prefixed, that compress like real logs do: a shared
// shape with varying numbers, ids and paths.
func benchPayloads(n int) [][]byte {
	rng := rand.New(rand.NewPCG(42, 7))
	paths := []string{"/api/v1/items", "/api/v1/users", "/healthz", "/api/v2/orders", "/static/app.js"}
	out := make([][]byte, n)
	for i := range out {
		var raw bytes.Buffer
		for m := range benchMessages {
			line := fmt.Sprintf("2026-11-28T04:%02d:%02d.%03dZ host-%02d app[%d]: %s %s/%d status=%d bytes=%d dur_ms=%d trace=%016x user=%08x",
				m%60, rng.IntN(60), rng.IntN(1000), rng.IntN(20), 1000+rng.IntN(50), []string{"GET", "POST"}[rng.IntN(2)],
				paths[rng.IntN(len(paths))], rng.IntN(100000), []int{200, 200, 200, 404, 500}[rng.IntN(5)],
				rng.IntN(50000), rng.IntN(900), rng.Uint64(), rng.Uint32())
			for len(line) < benchMsgSize {
				line += " pad"
			}
			binary.Write(&raw, binary.LittleEndian, uint32(benchMsgSize))
			raw.WriteString(line[:benchMsgSize])
		}
		var c bytes.Buffer
		w := lz4.NewWriter(&c)
		w.Write(raw.Bytes())
		w.Close()
		out[i] = c.Bytes()
	}
	return out
}

func benchStoreConfig(dir string, mode FlushMode) Config {
	cfg := testConfig(dir)
	cfg.SegmentSize = 0 // the default, 1 GiB
	cfg.Flush = mode
	cfg.CheckpointInterval = 10 * time.Second
	cfg.MaintenanceInterval = time.Second
	return cfg
}

// BenchmarkAppend measures sync and async appends of 1,000-message batches
// against a raw baseline measured in the same run: the same record bytes
// written to a plain file on the same disk with one fsync per `appenders`
// batches, which is what a perfect group commit would do. Store and
// baseline run in alternating rounds, so disk noise hits both alike.
// Reported: MB/s of the store, raw-MB/s of the baseline, and x-raw, their
// ratio (payload bytes in both).
func BenchmarkAppend(b *testing.B) {
	payloads := benchPayloads(16)
	for _, appenders := range []int{1, 8, 64} {
		for _, mode := range []FlushMode{FlushSync, FlushAsync} {
			b.Run(fmt.Sprintf("%s/appenders=%d", mode, appenders), func(b *testing.B) {
				benchAppend(b, payloads, mode, appenders, false)
			})
		}
		// As the server appends: the payload CRC arrives with the batch
		// (the producer computed it, the connection goroutine checked it),
		// like the baseline, whose records are encoded beforehand.
		b.Run(fmt.Sprintf("sync-crc-given/appenders=%d", appenders), func(b *testing.B) {
			benchAppend(b, payloads, FlushSync, appenders, true)
		})
	}
}

func benchAppend(b *testing.B, payloads [][]byte, mode FlushMode, appenders int, crcGiven bool) {
	dir := b.TempDir()
	s := mustOpen(b, benchStoreConfig(filepath.Join(dir, "store"), mode))
	defer s.Close()
	raw, err := newRawWriter(filepath.Join(dir, "raw"), payloads)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.f.Close()
	batches := make([]Batch, appenders)
	for i := range batches {
		batches[i] = Batch{Topic: "bench", Queue: uint32(i % 8), Count: benchMessages, Attr: record.AttrLZ4,
			ProducerID: 1, FirstBornMs: 1, LastBornMs: 2}
	}
	var crcs []uint32
	if crcGiven {
		for _, p := range payloads {
			crcs = append(crcs, record.PayloadCRC(p))
		}
	}
	round := max(64, 8*appenders)
	var storeTime, rawTime time.Duration
	var storeBytes, rawBytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(round, b.N-done)
		t0 := time.Now()
		storeBytes += appendConcurrently(b, s, batches, payloads, crcs, done, n)
		if mode == FlushAsync {
			s.flushOnce() // the same bytes reach the disk as in sync mode
		}
		t1 := time.Now()
		b.StopTimer()
		rawBytes += raw.write(b, done, n, appenders)
		rawTime += time.Since(t1)
		b.StartTimer()
		storeTime += t1.Sub(t0)
		done += n
	}
	b.StopTimer()
	storeMBs := float64(storeBytes) / storeTime.Seconds() / 1e6
	rawMBs := float64(rawBytes) / rawTime.Seconds() / 1e6
	b.ReportMetric(storeMBs, "MB/s")
	b.ReportMetric(rawMBs, "raw-MB/s")
	b.ReportMetric(storeMBs/rawMBs, "x-raw")
	if mode == FlushSync {
		fsyncs := histogramCount(b, s, "sluice_store_group_commit_batches_count")
		b.ReportMetric(float64(b.N)/float64(max(fsyncs, 1)), "batches/fsync")
	}
}

// appendConcurrently appends n batches from len(batches) goroutines and
// returns the payload bytes appended.
func appendConcurrently(b *testing.B, s *Store, batches []Batch, payloads [][]byte, crcs []uint32, first, n int) int64 {
	var next, written atomic.Int64
	var wg sync.WaitGroup
	for w := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bt := &batches[w] // each appender owns its batch
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				k := (first + int(i)) % len(payloads)
				bt.Payload = payloads[k]
				if crcs != nil {
					bt.PayloadCRC, bt.HasPayloadCRC = crcs[k], true
				}
				if _, err := s.Append(context.Background(), bt); err != nil {
					b.Error(err)
					return
				}
				written.Add(int64(len(bt.Payload)))
			}
		}()
	}
	wg.Wait()
	return written.Load()
}

// rawWriter is the baseline: records written back to back to one file.
type rawWriter struct {
	f        *os.File
	recs     [][]byte
	payloads [][]byte
}

func newRawWriter(path string, payloads [][]byte) (*rawWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &rawWriter{f: f, payloads: payloads}
	for _, p := range payloads {
		h := record.Header{Topic: "bench", Count: benchMessages, StoredAtMs: 1}
		w.recs = append(w.recs, record.Encode(nil, &h, p))
	}
	return w, nil
}

// write writes n records with an fsync after every perSync of them.
func (w *rawWriter) write(b *testing.B, first, n, perSync int) int64 {
	var bytes int64
	for i := range n {
		k := (first + i) % len(w.recs)
		if _, err := w.f.Write(w.recs[k]); err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(w.payloads[k]))
		if (i+1)%perSync == 0 || i == n-1 {
			if err := w.f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	return bytes
}

// BenchmarkReadQueue reads one queue sequentially from offset 0.
func BenchmarkReadQueue(b *testing.B) {
	payloads := benchPayloads(16)
	s := mustOpen(b, benchStoreConfig(b.TempDir(), FlushAsync))
	defer s.Close()
	const batches = 2000
	var total int64
	for i := range batches {
		bt := Batch{Topic: "bench", Count: benchMessages, Attr: record.AttrLZ4, Payload: payloads[i%len(payloads)]}
		if _, err := s.Append(context.Background(), &bt); err != nil {
			b.Fatal(err)
		}
		total += int64(len(bt.Payload))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	b.ResetTimer()
	var buf []byte
	for range b.N {
		n := 0
		for off := int64(0); ; {
			res, err := s.Read("bench", 0, off, ReadOptions{Buf: buf})
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Batches) == 0 {
				break
			}
			n += len(res.Batches)
			buf, off = res.Buf, res.Next
		}
		if n != batches {
			b.Fatalf("read %d batches, want %d", n, batches)
		}
	}
}

// BenchmarkRecover reopens a store after a crash with the same unflushed
// tail (32 MiB after the last checkpoint) on logs of 256 MiB and 2 GiB: the
// time should depend on the tail, not on the log.
func BenchmarkRecover(b *testing.B) {
	payloads := benchPayloads(16)
	const tail = 32 << 20
	for _, size := range []int64{256 << 20, 2 << 30} {
		b.Run(fmt.Sprintf("log=%dMiB/tail=32MiB", size>>20), func(b *testing.B) {
			dir := b.TempDir()
			cfg := benchStoreConfig(dir, FlushAsync)
			cfg.CheckpointInterval = time.Hour
			s := mustOpen(b, cfg)
			fill := func(n int64) {
				for i := 0; n > 0; i++ {
					bt := Batch{Topic: "bench", Queue: uint32(i % 8), Count: benchMessages, Attr: record.AttrLZ4,
						Payload: payloads[i%len(payloads)]}
					if _, err := s.Append(context.Background(), &bt); err != nil {
						b.Fatal(err)
					}
					n -= int64(len(bt.Payload))
				}
			}
			fill(size - tail)
			if err := s.checkpoint(); err != nil {
				b.Fatal(err)
			}
			fill(tail)
			s.crash()
			cpPath := filepath.Join(dir, checkpointFile)
			cp, err := os.ReadFile(cpPath)
			if err != nil {
				b.Fatal(err)
			}
			runs, _ := filepath.Glob(filepath.Join(dir, "keyindex", "*"))
			b.ResetTimer()
			for range b.N {
				s := mustOpen(b, cfg)
				b.StopTimer()
				s.crash()
				// Put the crash state back: the old checkpoint, no runs
				// written by this recovery.
				if err := os.WriteFile(cpPath, cp, 0o644); err != nil {
					b.Fatal(err)
				}
				removeNewFiles(b, filepath.Join(dir, "keyindex"), runs)
				b.StartTimer()
			}
		})
	}
}

func removeNewFiles(b *testing.B, dir string, keep []string) {
	now, _ := filepath.Glob(filepath.Join(dir, "*"))
	old := map[string]bool{}
	for _, k := range keep {
		old[k] = true
	}
	for _, n := range now {
		if !old[n] {
			if err := os.Remove(n); err != nil {
				b.Fatal(err)
			}
		}
	}
}
