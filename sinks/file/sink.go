package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
	"github.com/sluicehq/sluice/pipelines/event"
)

// Sink appends events to files. Write and Close are not called
// concurrently (the collector's contract); the janitor goroutine shares
// the open files with Write under mu.
type Sink struct {
	name string
	lg   *slog.Logger
	tmpl *pathTemplate
	loc  *time.Location
	json bool

	maxSize   int64
	maxAge    time.Duration
	keep      int
	maxOpen   int
	idleClose time.Duration
	mode      os.FileMode
	dirMode   os.FileMode
	fsync     bool
	retry     config.Retry
	// now is the clock of rotation by age, idle closing and rotated
	// names; tests set it.
	now func() time.Time

	// compressor is nil with compress: none.
	compressor *compressor

	// Write's scratch, kept between Writes to spare allocations.
	groups  []*group
	index   map[string]int
	pathBuf []byte
	// eventBytes is the mean size of an event encoded by the last Write:
	// the first group of a Write starts with room for the batch at that
	// size instead of growing by doubling, copying tens of megabytes.
	eventBytes int
	cache      pathCache
	enc        event.JSONEncoder

	mu     sync.Mutex
	files  openFiles // guarded by mu
	closed bool      // guarded by mu
	// dirtyDirs are directories with entries created or renamed since
	// the last fsync; guarded by mu.
	dirtyDirs map[string]struct{}

	stopJanitor chan struct{}
	janitorDone chan struct{}

	m sinkMetrics
}

type sinkMetrics struct {
	bytes, rotations, opens, lruCloses, idleCloses, removed, retries *metrics.Counter
	openFiles                                                        *metrics.Gauge
}

var _ component.Sink = (*Sink)(nil)

// New returns a Sink writing as cfg says; it starts the janitor (idle
// closing, rotation by age) and, with compression, the compressor.
func New(cfg Config, set component.Settings) (*Sink, error) {
	return newSink(cfg, set, time.Now, true)
}

// newSink is New with the clock, and with the janitor goroutine left out
// for tests that call tick themselves.
func newSink(cfg Config, set component.Settings, now func() time.Time, janitor bool) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("file sink %s: %w", set.Name, err)
	}
	cfg = cfg.withDefaults()
	tmpl, err := parseTemplate(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("file sink %s: path: %w", set.Name, err)
	}
	loc, err := loadLocation(cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("file sink %s: timezone: %w", set.Name, err)
	}
	s := &Sink{
		name: set.Name, lg: set.Logger, tmpl: tmpl, loc: loc, json: cfg.Encoding == EncodingJSON,
		maxSize: int64(cfg.Rotate.MaxSize), maxAge: cfg.Rotate.MaxAge.D(), keep: cfg.Keep,
		maxOpen: cfg.MaxOpenFiles, idleClose: cfg.IdleClose.D(),
		mode: os.FileMode(cfg.Mode), dirMode: cfg.Mode.dirMode(), fsync: *cfg.Fsync, retry: cfg.Retry,
		now:       now,
		index:     map[string]int{},
		files:     openFiles{byPath: map[string]*openFile{}},
		dirtyDirs: map[string]struct{}{},
		m:         newSinkMetrics(set),
	}
	if cfg.Compress != CompressNone {
		s.compressor = newCompressor(cfg.Compress, s, set)
	}
	if janitor {
		s.stopJanitor, s.janitorDone = make(chan struct{}), make(chan struct{})
		go s.runJanitor()
	}
	return s, nil
}

func newSinkMetrics(set component.Settings) sinkMetrics {
	name := component.Label(set.Name)
	counter := func(metric, labels string) *metrics.Counter {
		return set.Metrics.GetOrCreateCounter(fmt.Sprintf(`%s{sink="%s"%s}`, metric, name, labels))
	}
	return sinkMetrics{
		bytes:      counter("sluice_collector_sink_file_bytes_total", ""),
		rotations:  counter("sluice_collector_sink_file_rotations_total", ""),
		opens:      counter("sluice_collector_sink_file_opens_total", ""),
		lruCloses:  counter("sluice_collector_sink_file_closes_total", `,reason="max_open_files"`),
		idleCloses: counter("sluice_collector_sink_file_closes_total", `,reason="idle"`),
		removed:    counter("sluice_collector_sink_file_rotated_removed_total", ""),
		retries:    counter("sluice_collector_sink_retries_total", ""),
		openFiles:  set.Metrics.GetOrCreateGauge(fmt.Sprintf(`sluice_collector_sink_file_open_files{sink="%s"}`, name), nil),
	}
}

// Write appends the batch to its files, one write per file (more only
// where rotation splits it), fsyncs them and returns. Failures that can
// pass (a full disk) are retried with back-off, going on from what was
// already written: a failed write is truncated away, so a retry never
// leaves half a line or a line twice.
func (s *Sink) Write(ctx context.Context, events []*event.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("file sink %s: write after close", s.name)
	}
	s.groupEvents(events)
	defer s.resetGroups()
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := s.writeGroupsLocked()
		if err == nil {
			return nil
		}
		if !transient(err) || time.Since(start) >= s.retry.MaxElapsed.D() {
			return fmt.Errorf("file sink %s: write %d events: %w", s.name, len(events), err)
		}
		delay := component.Backoff{Initial: s.retry.InitialBackoff.D(), Max: s.retry.MaxBackoff.D()}.Delay(attempt)
		s.lg.Warn("file sink: write failed, retrying", "sink", s.name, "error", err, "in", delay)
		s.m.retries.Inc()
		if !component.Sleep(ctx, delay) {
			return ctx.Err()
		}
	}
}

// writeGroupsLocked writes what is left of every group, then fsyncs.
func (s *Sink) writeGroupsLocked() error {
	now := s.now()
	for _, g := range s.groups {
		if err := s.writeGroupLocked(g, now); err != nil {
			return err
		}
	}
	return s.syncLocked()
}

// writeGroupLocked appends g's remaining bytes to its file, rotating
// before a write that would take the file past max_size or when the file
// is older than max_age.
func (s *Sink) writeGroupLocked(g *group, now time.Time) error {
	for g.written < len(g.buf) {
		f, err := s.fileLocked(g.path, now)
		if err != nil {
			return err
		}
		if s.maxAge > 0 && f.size > 0 && now.Sub(f.opened) >= s.maxAge {
			if err := s.rotateLocked(f, now); err != nil {
				return err
			}
			continue
		}
		chunk := g.buf[g.written:]
		if room := s.maxSize - f.size; s.maxSize > 0 && int64(len(chunk)) > room {
			n := g.fitting(room)
			if n == 0 && f.size > 0 {
				if err := s.rotateLocked(f, now); err != nil {
					return err
				}
				continue
			}
			if n == 0 { // one event bigger than max_size: a file of its own
				n = g.nextEnd()
			}
			chunk = chunk[:n]
		}
		if err := s.appendLocked(f, chunk, now); err != nil {
			return err
		}
		g.written += len(chunk)
	}
	return nil
}

// fitting returns the bytes of the whole events after g.written that fit
// in room.
func (g *group) fitting(room int64) int {
	lo, hi := 0, len(g.ends) // the events are ends[i] > written
	for lo < hi {
		mid := (lo + hi) / 2
		if g.ends[mid] <= g.written {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	n := 0
	for i := lo; i < len(g.ends) && int64(g.ends[i]-g.written) <= room; i++ {
		n = g.ends[i] - g.written
	}
	return n
}

// nextEnd is the length of the next event after g.written.
func (g *group) nextEnd() int {
	for _, end := range g.ends {
		if end > g.written {
			return end - g.written
		}
	}
	return len(g.buf) - g.written
}

// syncError marks an fsync failure: what the file holds is then unknown,
// so the batch goes back to the collector instead of being retried here.
type syncError struct{ err error }

func (e *syncError) Error() string { return e.err.Error() }
func (e *syncError) Unwrap() error { return e.err }

// transient reports whether err may pass by itself.
func transient(err error) bool {
	var se *syncError
	if errors.As(err, &se) {
		return false
	}
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EAGAIN,
		syscall.EINTR, syscall.ENFILE, syscall.EMFILE, syscall.EBUSY, syscall.ETIMEDOUT} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// Close closes every file (fsyncing what was written since the last
// Write's fsync), stops the janitor and the compressor: the compressor
// finishes its queue unless ctx ends first; a rotated file left
// uncompressed is compressed at the next rotation of its path.
func (s *Sink) Close(ctx context.Context) error {
	if s.stopJanitor != nil {
		close(s.stopJanitor)
		<-s.janitorDone
		s.stopJanitor = nil
	}
	s.mu.Lock()
	var errs []error
	for s.files.tail != nil {
		errs = append(errs, s.closeFileLocked(s.files.tail))
	}
	errs = append(errs, s.syncDirsLocked())
	s.closed = true
	s.mu.Unlock()
	if s.compressor != nil {
		errs = append(errs, s.compressor.close(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("file sink %s: close: %w", s.name, err)
	}
	return nil
}

// runJanitor closes idle files and rotates old ones between Writes.
func (s *Sink) runJanitor() {
	defer close(s.janitorDone)
	every := s.idleClose
	if s.maxAge > 0 {
		every = min(every, s.maxAge)
	}
	every = min(max(every/4, 10*time.Millisecond), 15*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopJanitor:
			return
		case <-t.C:
			s.tick()
		}
	}
}

// tick closes the files idle for idle_close and rotates the ones older
// than max_age.
func (s *Sink) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	now := s.now()
	for f := s.files.tail; f != nil; {
		prev := f.prev
		var err error
		switch {
		case s.maxAge > 0 && f.size > 0 && now.Sub(f.opened) >= s.maxAge:
			err = s.rotateLocked(f, now)
		case now.Sub(f.lastWrite) >= s.idleClose:
			s.m.idleCloses.Inc()
			err = s.closeFileLocked(f)
		}
		if err != nil {
			s.lg.Warn("file sink: closing an idle or old file", "sink", s.name, "error", err)
		}
		f = prev
	}
	if err := s.syncDirsLocked(); err != nil {
		s.lg.Warn("file sink: fsync of a directory", "sink", s.name, "error", err)
	}
}
