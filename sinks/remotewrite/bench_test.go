package remotewrite

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/event"
)

// benchEvent is one event of n series of a scrape-like shape (name,
// job, instance and two more labels), one sample each.
func benchEvent(n int) *event.Event {
	e := &event.Event{Kind: event.KindMetric, Series: make([]prompb.TimeSeries, n)}
	for i := range e.Series {
		e.Series[i] = prompb.TimeSeries{
			Labels: lbls("__name__", "node_cpu_seconds_total", "cpu", strconv.Itoa(i%64), "instance", "host-"+strconv.Itoa(i/64)+":9100",
				"job", "node", "mode", []string{"idle", "user", "system", "iowait"}[i%4]),
			Samples: []prompb.Sample{{Timestamp: 1, Value: float64(i)}},
		}
	}
	return e
}

// setTime gives every sample of e the timestamp ms.
func setTime(e *event.Event, ms int64) {
	for i := range e.Series {
		for j := range e.Series[i].Samples {
			e.Series[i].Samples[j].Timestamp = ms
			e.Series[i].Samples[j].Value++
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRemoteWriteVM writes events of 1000 series × 1 sample into a
// real VictoriaMetrics: samples/s, and this process's CPU seconds per
// million samples (user+system, from getrusage).
func BenchmarkRemoteWriteVM(b *testing.B) {
	const series = 1000
	vm := startVM(b)
	for _, protocol := range []string{"v1"} {
		b.Run(protocol, func(b *testing.B) {
			s, _, _ := testSink(b, Config{URL: vm.base + "/api/v1/write", Protocol: protocol})
			e := benchEvent(series)
			events := []*event.Event{e}
			start := time.Now().Add(-time.Hour).UnixMilli()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, t0 := cpuTime(), time.Now()
			for i := range b.N {
				setTime(e, start+int64(i))
				if err := s.Write(b.Context(), events); err != nil {
					b.Fatal(err)
				}
			}
			elapsed, cpu := time.Since(t0), cpuTime()-cpu0
			b.StopTimer()
			samples := float64(b.N) * series
			b.ReportMetric(samples/elapsed.Seconds(), "samples/s")
			b.ReportMetric(cpu.Seconds()/samples*1e6, "cpu-s/M-samples")
		})
	}
}

// BenchmarkEncode is the marshal and snappy of requests of 1000 series ×
// 1 sample, without the network: ns per sample and allocations.
func BenchmarkEncode(b *testing.B) {
	const series = 1000
	for _, protocol := range []string{"v1", "v2"} {
		b.Run(protocol, func(b *testing.B) {
			batch := newBatch(1)
			batch.add([]*event.Event{benchEvent(series)})
			sh := &batch.shards[0]
			sh.gather(batch.frags)
			var cur cursor
			sh.enc.chunks, _ = sh.next(&cur, series, sh.enc.chunks[:0])
			encode := func() []byte {
				var body []byte
				var err error
				if protocol == "v2" {
					body, err = sh.enc.encodeV2(sh.enc.chunks, batch.metadata)
				} else {
					body, err = sh.enc.encodeV1(sh.enc.chunks, nil)
				}
				if err != nil {
					b.Fatal(err)
				}
				return body
			}
			body := encode()
			b.SetBytes(int64(len(sh.enc.pb)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				encode()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/series, "ns/sample")
			b.ReportMetric(float64(len(body)), "snappy-bytes/request")
		})
	}
}

// BenchmarkBatch is Write's work before encoding: sharding, label checks
// and merging, for 10 events of the same 1000 series.
func BenchmarkBatch(b *testing.B) {
	const series, events = 1000, 10
	var evs []*event.Event
	for i := range events {
		e := benchEvent(series)
		setTime(e, int64(i))
		evs = append(evs, e)
	}
	batch := newBatch(4)
	run := func() {
		batch.add(evs)
		for i := range batch.shards {
			batch.shards[i].gather(batch.frags)
		}
		batch.reset()
	}
	run() // the buffers grow once, then are reused
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(series*events), "ns/sample")
}
