package tail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/broker/protocol"
)

// Tailer follows files and emits their lines.
type Tailer struct {
	cfg Config
	lg  *slog.Logger
	m   *tailMetrics

	files  map[fileID]*tracked
	byPath map[string]*tracked
	saved  map[fileID]checkpoint // checkpoints loaded at start, not yet matched: kept ForgetAfter
	// openFailed holds the paths that could not be opened, warned about once.
	openFailed map[string]bool

	ackMu sync.Mutex // guards tracked.acked, pending, dirty

	batch      []source.Record
	batchBytes int
	batchEnds  []*pendingEnd
	batchFiles map[*tracked]*pendingEnd
	batchStart time.Time // when the open batch got its first line
	scratch    []byte
	arena      []byte    // see copyBody
	opened     uint64    // files opened so far, to order files sharing a name
	joiner     *joiner   // nil without multiline
	now        time.Time // the time of the current pass

	// For the duration of Run: a batch that fills while a chunk is being
	// split into lines is emitted on the spot, so batches keep their
	// bounds however many lines a chunk holds.
	ctx     context.Context
	emitter source.Emitter
	emitErr error // the first failed Emit of the pass
}

// New returns a Tailer; Run starts it.
func New(cfg Config) (*Tailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	t := &Tailer{cfg: cfg, lg: cfg.Logger, files: map[fileID]*tracked{}, byPath: map[string]*tracked{},
		saved: map[fileID]checkpoint{}, batchFiles: map[*tracked]*pendingEnd{}, scratch: make([]byte, readChunk)}
	if cfg.Multiline != nil {
		t.joiner = newJoiner(cfg.Multiline)
	}
	t.m = newTailMetrics(cfg.Metrics, t)
	return t, nil
}

// Run follows the files until ctx ends, emitting into e, then saves the
// checkpoints and closes every file.
func (t *Tailer) Run(ctx context.Context, e source.Emitter) error {
	t.ctx, t.emitter, t.emitErr = ctx, e, nil
	defer func() { t.ctx, t.emitter = nil, nil }()
	t.byPath, t.saved, t.openFailed = map[string]*tracked{}, map[fileID]checkpoint{}, map[string]bool{}
	cps, err := loadState(t.cfg.StateDir)
	if err != nil {
		return err
	}
	for _, c := range cps {
		if c.Seen == 0 {
			c.Seen = time.Now().Unix()
		}
		t.saved[fileID{c.Dev, c.Ino}] = c
	}
	defer t.closeAll()
	tick := time.NewTicker(t.cfg.ScanInterval)
	defer tick.Stop()
	lastSave := time.Now()
	for first := true; ; first = false {
		t.now = time.Now()
		t.scan(first)
		behind, err := t.readFor(ctx, e, t.cfg.ScanInterval)
		if err != nil {
			return t.stop(err)
		}
		t.flushStaleEvents()
		if err := t.flush(ctx, e); err != nil {
			return t.stop(err)
		}
		t.retire()
		t.closeIdle()
		if time.Since(lastSave) >= time.Second {
			t.save()
			lastSave = time.Now()
		}
		if behind { // more to read: scan again at once, unless stopped
			select {
			case <-ctx.Done():
				return t.stop(nil)
			default:
				continue
			}
		}
		select {
		case <-ctx.Done():
			return t.stop(nil)
		case <-tick.C:
		}
	}
}

// readFor reads passes over the files until they have nothing more or
// d has passed; it reports whether they had more. The bound keeps scans
// and checkpoint saves going while files grow faster than they are read.
func (t *Tailer) readFor(ctx context.Context, e source.Emitter, d time.Duration) (behind bool, err error) {
	for start := time.Now(); ; {
		t.now = time.Now()
		n, err := t.readPass(ctx, e)
		if err != nil || n == 0 {
			return false, err
		}
		if t.now.Sub(start) >= d {
			return true, nil
		}
	}
}

// stop saves checkpoints; ctx's end is a normal stop.
func (t *Tailer) stop(err error) error {
	t.save()
	if err != nil && !isCtxErr(err) {
		return err
	}
	return nil
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// scan matches the globs and starts, follows or lets go of files.
func (t *Tailer) scan(first bool) {
	for _, f := range t.files {
		f.seen = false
	}
	for _, path := range t.match() {
		fi, err := os.Stat(path) // follows symlinks: a file is its target
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		id, ok := idOf(fi)
		if !ok {
			continue
		}
		if f := t.files[id]; f != nil {
			t.follow(f, path, fi)
			continue
		}
		if old := t.byPath[path]; old != nil && old.id != id {
			t.rotatedAway(old)
		}
		t.open(path, id, fi, first)
	}
	for _, f := range t.files {
		if !f.seen && !f.gone {
			t.rotatedAway(f)
		}
	}
	if first {
		t.findRotatedWhileDown()
	}
}

// findRotatedWhileDown looks for files with a checkpoint that no glob
// matched: rotated while the agent was down to a name outside the globs
// (app.log -> app.log.1). Found by inode next to their old path, they
// are drained from their checkpoint like any rotated file.
func (t *Tailer) findRotatedWhileDown() {
	for id, c := range t.saved {
		dir := filepath.Dir(c.Path)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, de := range entries {
			path := filepath.Join(dir, de.Name())
			fi, err := os.Stat(path)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if fid, ok := idOf(fi); !ok || fid != id {
				continue
			}
			if !fits(path, c) {
				break // its inode now holds another file: a later scan finds that one if it is wanted
			}
			t.open(path, id, fi, false)
			if f := t.files[id]; f != nil {
				f.name, f.key = c.Path, t.key(c.Path) // its lines keep the path they were written to
				delete(t.byPath, path)
				f.gone = true
				t.lg.Info("file rotated while the agent was down; reading it to its end", "file", path, "was", c.Path)
			}
			delete(t.saved, id)
			break
		}
	}
}

// fits reports whether the file at path is the one checkpoint c was
// taken of: as long as its offset, and starting with the same bytes.
func fits(path string, c checkpoint) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || fi.Size() < c.Offset || fi.Size() < int64(c.FPLen) {
		return false
	}
	fp, err := fingerprintOf(fh, int64(c.FPLen))
	return err == nil && fp.hash == c.FPHash
}

func (t *Tailer) match() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range t.cfg.Include {
		paths := glob(g)
		for _, p := range paths {
			if seen[p] || t.excluded(p) {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (t *Tailer) excluded(p string) bool {
	for _, g := range t.cfg.Exclude {
		if globMatch(g, p) || globMatch(g, filepath.Base(p)) {
			return true
		}
	}
	return false
}

// follow notes that f is (still) at path, and handles truncation.
func (t *Tailer) follow(f *tracked, path string, fi os.FileInfo) {
	f.seen, f.gone = true, false
	f.sizeMirror.Store(fi.Size())
	grew := fi.Size() != f.scanSize
	f.scanSize = fi.Size()
	if f.f == nil && fi.Size() != f.readOff {
		t.reopen(f, path)
	}
	if f.path != path {
		delete(t.byPath, f.path)
		f.path = path
	}
	t.byPath[path] = f
	switch {
	case fi.Size() < f.readOff:
		// copytruncate or truncation in place: the file starts over.
		t.restart(f, "file truncated; reading it from the start", fi.Size())
	case grew && f.f != nil && f.fp.n > 0 && !sameStart(f.f, f.fp):
		// Truncated and written past the old offset between two scans:
		// only its first bytes tell.
		t.restart(f, "file rewritten from its start; reading it from the start", fi.Size())
	}
	if f.f != nil && f.fp.n < fingerprintBytes && fi.Size() > int64(f.fp.n) {
		if fp, err := fingerprintOf(f.f, fi.Size()); err == nil {
			f.fp = fp
		}
	}
}

// restart reads f again from its start: it was truncated, or its inode
// now holds another file.
func (t *Tailer) restart(f *tracked, why string, size int64) {
	t.lg.Info(why, "file", f.path, "size", size, "offset", f.readOff)
	t.m.truncations.Inc()
	t.flushEvent(f) // its lines were read before the truncation
	f.readOff, f.bufOff, f.buf, f.skip = 0, 0, f.buf[:0], false
	f.readMirror.Store(0)
	f.fp = fingerprint{} // new content: fingerprinted again as it grows
	t.ackMu.Lock()
	f.gen++
	f.acked, f.pending, f.dirty = 0, nil, true
	t.ackMu.Unlock()
	delete(t.batchFiles, f)
}

// sameStart reports whether fh still begins with the bytes fp was taken
// of; an unreadable file is given the benefit of the doubt.
func sameStart(fh *os.File, fp fingerprint) bool {
	now, err := fingerprintOf(fh, int64(fp.n))
	return err != nil || now == fp
}

// rotatedAway marks f as no longer at a watched path: it is read to its
// end and then let go.
func (t *Tailer) rotatedAway(f *tracked) {
	if f.gone {
		return
	}
	f.gone = true
	if t.byPath[f.path] == f {
		delete(t.byPath, f.path)
	}
	t.m.rotations.Inc()
	t.lg.Info("file rotated away; reading it to its end", "file", f.path)
}

// open starts following a file newly found at path.
func (t *Tailer) open(path string, id fileID, fi os.FileInfo, first bool) {
	fh, err := os.Open(path)
	if err != nil {
		t.m.errors.Inc()
		if !t.openFailed[path] { // once, not at every scan
			t.openFailed[path] = true
			t.lg.Warn("open file", "file", path, "err", err)
		}
		return
	}
	delete(t.openFailed, path)
	fp, err := fingerprintOf(fh, fi.Size())
	if err != nil {
		fh.Close()
		t.m.errors.Inc()
		return
	}
	start, name := int64(0), path
	if c, ok := t.saved[id]; ok {
		delete(t.saved, id)
		if c.FPLen <= fp.n && c.Offset <= fi.Size() {
			if cfp, err := fingerprintOf(fh, int64(c.FPLen)); err == nil && cfp.hash == c.FPHash {
				start, name = c.Offset, c.Path
			}
		}
		// Otherwise it was truncated, or its inode went to a new file,
		// since the checkpoint: all of it is new, whatever StartAt says.
	} else if first && t.cfg.StartAt == "end" {
		start = fi.Size()
	}
	t.opened++
	f := &tracked{order: t.opened, id: id, path: path, name: name, f: fh, fp: fp, readOff: start, bufOff: start,
		acked: start, dirty: true, seen: true, key: t.key(name), props: protocol.NewProps(t.props(name)), dataAt: t.now}
	f.sizeMirror.Store(fi.Size())
	t.files[id] = f
	t.byPath[path] = f
	t.m.open(f)
}

// readPass reads one chunk of every file with new data, cutting batches
// as they fill; it returns the bytes read.
func (t *Tailer) readPass(ctx context.Context, e source.Emitter) (int, error) {
	total := 0
	// Of the files that share a name (the path they were found at), the
	// oldest is drained first: the lines of one path keep their order
	// across a rotation, whether the rotated file is still matched by the
	// globs or not.
	first := map[string]uint64{}
	for _, f := range t.files {
		if !t.atEnd(f) {
			if s, ok := first[f.name]; !ok || f.order < s {
				first[f.name] = f.order
			}
		}
	}
	for _, f := range t.sortedFiles() {
		if s, ok := first[f.name]; ok && f.order > s {
			continue
		}
		n, err := f.readLines(t.scratch, t.cfg.MaxLineBytes, t.cfg.TruncateLongLines, func(b []byte, off, end int64, kind lineKind) {
			t.line(f, b, off, end, kind)
		})
		if err != nil {
			t.m.errors.Inc()
			t.lg.Warn("read file", "file", f.path, "err", err)
			continue
		}
		if n == 0 && f.gone {
			t.flushEvent(f) // a rotated file's last event ends with it
		}
		if n > 0 {
			f.dataAt = t.now
		}
		t.m.bytes.Add(n)
		total += n
		if err := t.emitErr; err != nil {
			return total, err
		}
		if len(t.batch) > 0 && time.Since(t.batchStart) >= t.cfg.Linger {
			if err := t.flush(ctx, e); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

func (t *Tailer) sortedFiles() []*tracked {
	fs := make([]*tracked, 0, len(t.files))
	for _, f := range t.files {
		fs = append(fs, f)
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].path < fs[j].path })
	return fs
}

// add appends one line (or event) to the open batch; end is the file
// offset the checkpoint may advance to once the batch is delivered.
func (t *Tailer) add(f *tracked, b []byte, off, end int64) {
	if len(t.batch) == 0 {
		t.batchStart = time.Now()
	}
	t.batch = append(t.batch, source.Record{Topic: t.cfg.Topic, Key: f.key, Body: t.copyBody(b),
		Shared: f.props, Extra: source.Property{Name: source.PropOffset, Value: t.offsetString(off)}, Time: t.now})
	t.batchBytes += len(b)
	t.m.lines.Inc()
	p := t.batchFiles[f]
	if p == nil {
		p = &pendingEnd{gen: f.gen}
		t.batchFiles[f] = p
		t.ackMu.Lock()
		f.pending = append(f.pending, p)
		t.ackMu.Unlock()
		t.batchEnds = append(t.batchEnds, p)
	}
	p.end = end
	if t.full() && t.emitErr == nil {
		// Lines after a failed Emit are dropped with the batch; they were
		// never handed over, so the checkpoint never passes them.
		t.emitErr = t.flush(t.ctx, t.emitter)
	}
}

// arenaChunk is the allocation that bodies and offsets of lines are
// carved from, so a line costs no allocation of its own for them.
const arenaChunk = 64 << 10

// copyBody copies b into the arena. Records own their bodies: a chunk is
// shared only by records handed over together or later, and no byte of
// it is written twice (the three-index slice keeps appends off the next
// body).
func (t *Tailer) copyBody(b []byte) []byte {
	if len(b) > arenaChunk/4 {
		return append([]byte(nil), b...)
	}
	if cap(t.arena)-len(t.arena) < len(b) {
		t.arena = make([]byte, 0, arenaChunk)
	}
	i := len(t.arena)
	t.arena = append(t.arena, b...)
	return t.arena[i:len(t.arena):len(t.arena)]
}

// offsetString formats off in the arena. The bytes are never written
// again, which is what unsafe.String requires.
func (t *Tailer) offsetString(off int64) string {
	if cap(t.arena)-len(t.arena) < 20 {
		t.arena = make([]byte, 0, arenaChunk)
	}
	i := len(t.arena)
	t.arena = strconv.AppendInt(t.arena, off, 10)
	return unsafe.String(&t.arena[i], len(t.arena)-i)
}

// props returns the properties of the lines of the file found at name,
// which their records share, encoded once (only the offset differs, in
// Extra): a map per line was most of what a line cost, and encoding it
// per line a fifth of the agent's CPU.
func (t *Tailer) props(name string) map[string]string {
	props := make(map[string]string, 3+len(t.cfg.Fields))
	for k, v := range t.cfg.Fields {
		props[k] = v
	}
	props[source.PropHost] = t.cfg.Host
	props[source.PropFile] = name
	props[source.PropSource] = t.cfg.Name
	return props
}

func (t *Tailer) key(path string) string {
	return strings.NewReplacer("{host}", t.cfg.Host, "{file}", path, "{source}", t.cfg.Name).Replace(t.cfg.Key)
}

func (t *Tailer) full() bool {
	return len(t.batch) >= t.cfg.BatchLines || t.batchBytes >= t.cfg.BatchBytes
}

// flush emits the open batch; its ack advances the files' checkpoints.
func (t *Tailer) flush(ctx context.Context, e source.Emitter) error {
	if len(t.batch) == 0 {
		return nil
	}
	ends := t.batchEnds
	files := make([]*tracked, 0, len(t.batchFiles))
	for f := range t.batchFiles {
		files = append(files, f)
	}
	err := e.Emit(ctx, t.batch, func(err error) {
		if err == nil {
			t.acked(files, ends)
		}
	})
	if err != nil {
		return fmt.Errorf("emit %d lines: %w", len(t.batch), err)
	}
	t.batch, t.batchBytes, t.batchEnds = make([]source.Record, 0, min(t.cfg.BatchLines, 1024)), 0, nil
	clear(t.batchFiles)
	return nil
}

// acked marks ends delivered and advances each file's checkpoint over
// its delivered prefix (acks may come out of order).
func (t *Tailer) acked(files []*tracked, ends []*pendingEnd) {
	t.ackMu.Lock()
	defer t.ackMu.Unlock()
	for _, p := range ends {
		p.done = true
	}
	for _, f := range files {
		for len(f.pending) > 0 && f.pending[0].done {
			if f.pending[0].gen == f.gen {
				f.acked = f.pending[0].end
				f.dirty = true
			}
			f.pending = f.pending[1:]
		}
	}
}

// atEnd reports whether f was read to its current end.
func (t *Tailer) atEnd(f *tracked) bool {
	if f.f == nil {
		return true
	}
	fi, err := f.f.Stat()
	if err == nil {
		f.sizeMirror.Store(fi.Size())
	}
	return err != nil || f.readOff >= fi.Size() && len(f.buf) == 0 && f.event.lines == 0
}

// retire lets go of rotated-away files read to their end and delivered.
func (t *Tailer) retire() {
	for id, f := range t.files {
		if !f.gone {
			continue
		}
		if !t.atEnd(f) {
			continue
		}
		t.ackMu.Lock()
		delivered := len(f.pending) == 0
		t.ackMu.Unlock()
		if !delivered {
			continue
		}
		t.closeFile(f)
		delete(t.files, id)
		t.m.close(f)
	}
}

// closeIdle closes the files that did not grow for IdleTimeout, so that
// many quiet files hold no descriptors; follow reopens one that grows.
// A file closed while idle that is written and renamed within one scan
// interval loses the lines written then, as with every tailer that closes
// inactive files: IdleTimeout trades that for descriptors.
func (t *Tailer) closeIdle() {
	for _, f := range t.files {
		if f.f != nil && !f.gone && t.now.Sub(f.dataAt) >= t.cfg.IdleTimeout && t.atEnd(f) {
			t.closeFile(f)
		}
	}
}

// reopen opens an idle file again at path, if path is still that file.
func (t *Tailer) reopen(f *tracked, path string) {
	fh, err := os.Open(path)
	if err != nil {
		t.m.errors.Inc()
		t.lg.Warn("reopen file", "file", path, "err", err)
		return
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return
	}
	if id, ok := idOf(fi); !ok || id != f.id {
		fh.Close() // replaced between the scan's stat and now: the next scan sees it
		return
	}
	f.f, f.dataAt = fh, t.now
	t.m.filesOpen.Add(1)
	if f.fp.n > 0 && !sameStart(fh, f.fp) {
		// Deleted while closed and its inode given to a new file.
		t.restart(f, "file replaced while idle (inode reused); reading it from the start", fi.Size())
	}
}

func (t *Tailer) closeFile(f *tracked) {
	if f.f != nil {
		f.f.Close()
		f.f = nil
		t.m.filesOpen.Add(-1)
	}
}

// save writes the checkpoints of the files being followed.
func (t *Tailer) save() {
	now := time.Now().Unix()
	t.ackMu.Lock()
	cps := make([]checkpoint, 0, len(t.files)+len(t.saved))
	for _, f := range t.files {
		cps = append(cps, checkpoint{Dev: f.id.dev, Ino: f.id.ino, FPLen: f.fp.n, FPHash: f.fp.hash, Path: f.name,
			Offset: f.acked, Seen: now})
		f.dirty = false
	}
	t.ackMu.Unlock()
	// Checkpoints of files not found since the start are kept a while (a
	// file system mounted late, a directory recreated), then forgotten,
	// so the state does not grow with files long gone.
	for id, c := range t.saved {
		if time.Duration(now-c.Seen)*time.Second >= t.cfg.ForgetAfter {
			t.lg.Info("forgetting the checkpoint of a file not seen for a while", "file", c.Path, "seen", time.Unix(c.Seen, 0))
			delete(t.saved, id)
			continue
		}
		cps = append(cps, c)
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i].Path < cps[j].Path })
	if err := saveState(t.cfg.StateDir, cps); err != nil {
		t.m.errors.Inc()
		t.lg.Error("save file checkpoints", "err", err)
	}
}

func (t *Tailer) closeAll() {
	for id, f := range t.files {
		t.closeFile(f)
		delete(t.files, id)
		t.m.close(f)
	}
	t.m.set.UnregisterMetric(t.m.filesOpenName) // a reloaded source registers its own
}

type tailMetrics struct {
	set                                                            *metrics.Set
	source                                                         string
	lines, bytes, split, truncated, rotations, truncations, errors *metrics.Counter
	filesOpen                                                      atomic.Int64
	filesOpenName                                                  string
}

func newTailMetrics(set *metrics.Set, t *Tailer) *tailMetrics {
	l := fmt.Sprintf(`{source=%q}`, t.cfg.Name)
	m := &tailMetrics{set: set, source: t.cfg.Name,
		lines:       set.GetOrCreateCounter(`sluice_agent_file_lines_total` + l),
		bytes:       set.GetOrCreateCounter(`sluice_agent_file_bytes_total` + l),
		split:       set.GetOrCreateCounter(`sluice_agent_file_lines_split_total` + l),
		truncated:   set.GetOrCreateCounter(`sluice_agent_file_lines_truncated_total` + l),
		rotations:   set.GetOrCreateCounter(`sluice_agent_file_rotations_total` + l),
		truncations: set.GetOrCreateCounter(`sluice_agent_file_truncations_total` + l),
		errors:      set.GetOrCreateCounter(`sluice_agent_file_errors_total` + l),
	}
	m.filesOpenName = `sluice_agent_files_open` + l
	set.GetOrCreateGauge(m.filesOpenName, func() float64 { return float64(m.filesOpen.Load()) })
	return m
}

// open registers the bytes-behind gauge of f: its size minus what was
// read, from the file and an atomic mirror, so the metrics goroutine
// never touches the tailer's state.
func (m *tailMetrics) open(f *tracked) {
	f.gauge = fmt.Sprintf(`sluice_agent_file_bytes_behind{source=%q,file=%q,inode="%d"}`, m.source, f.path, f.id.ino)
	f.readMirror.Store(f.readOff)
	m.filesOpen.Add(1)
	m.set.GetOrCreateGauge(f.gauge, func() float64 {
		return float64(max(f.sizeMirror.Load()-f.readMirror.Load(), 0))
	})
}

func (m *tailMetrics) close(f *tracked) { m.set.UnregisterMetric(f.gauge) }
