package keyindex

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// Entry says that message Index of the record at log position Pos has a key
// whose hash (record.KeyHash) is Hash.
type Entry struct {
	Hash  uint64
	Pos   int64
	Index uint32
}

// Config configures an Index.
type Config struct {
	// FS is the file system; nil means vfs.Default.
	FS vfs.FS
	// Dir holds the run files and nothing else. Required; created if missing.
	Dir string
	// MaxRuns is the number of runs above which Checkpoint merges some of
	// them. Zero means 16. Lookups read up to one block per run, so fewer
	// runs make lookups cheaper and checkpoints (on average) dearer.
	MaxRuns int
}

const defaultMaxRuns = 16

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("key index: dir is empty")
	}
	if c.MaxRuns < 0 {
		return fmt.Errorf("key index: max runs is %d, must not be negative", c.MaxRuns)
	}
	return nil
}

// ErrClosed is returned by the methods of a closed Index.
var ErrClosed = errors.New("key index closed")

// Index maps key hashes to log positions. Add, Checkpoint, DropBefore and
// Close are called by one owner; Lookup, CorruptRuns and Stats may be called
// concurrently with all of them.
type Index struct {
	fs           vfs.FS
	dir          string
	maxRuns      int
	blockEntries int // entries per block of new runs; tests shrink it

	// writeMu serialises the methods that write or remove run files, so that
	// they can do their I/O without holding mu.
	writeMu sync.Mutex

	mu   sync.RWMutex // guards everything below
	mem  []Entry      // entries since the last checkpoint, in Add order (by Pos)
	from int64        // start of the range the next run covers
	runs []*run       // sorted by from, then upTo
	// unusable are runs found corrupt at Open: not searched, kept on disk for
	// inspection until DropBefore passes them or a merged run covers them.
	unusable []unusableRun
	corrupt  []string // paths of every run found corrupt since Open
	closed   bool
	stats    Stats

	bufPool sync.Pool // *[]byte block buffers for Lookup
}

type unusableRun struct {
	path       string
	from, upTo int64
}

// Stats describes an Index for metrics.
type Stats struct {
	MemEntries  int    // entries added since the last checkpoint
	Runs        int    // run files searched by Lookup
	RunEntries  uint64 // entries in those runs
	Compactions uint64 // merges completed since Open
	// CompactionErrors counts merges that failed since Open; the last error
	// is LastCompactionError. A failed merge loses nothing: its inputs stay.
	CompactionErrors    uint64
	LastCompactionError error
}

// Open opens the index in cfg.Dir. durable is the log position of the
// store's last committed checkpoint: runs starting at or after it were
// written after that checkpoint and are deleted, since the store replays the
// log from durable and adds those entries again. Runs found corrupt are left
// out and reported by CorruptRuns; Open fails only on I/O errors.
func Open(cfg Config, durable int64) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if durable < 0 {
		return nil, fmt.Errorf("open key index %s: durable position %d is negative", cfg.Dir, durable)
	}
	x := &Index{
		fs:           cfg.FS,
		dir:          cfg.Dir,
		maxRuns:      cfg.MaxRuns,
		blockEntries: defaultBlockEntries,
		from:         durable,
	}
	if x.fs == nil {
		x.fs = vfs.Default
	}
	if x.maxRuns == 0 {
		x.maxRuns = defaultMaxRuns
	}
	if err := x.load(durable); err != nil {
		x.closeRuns()
		return nil, fmt.Errorf("open key index %s: %w", x.dir, err)
	}
	return x, nil
}

// load opens the runs in x.dir that were durable at durable and removes
// every other file the index wrote: temp files, runs written after durable
// and runs a merged run covers (a merge that crashed before removing them).
func (x *Index) load(durable int64) error {
	if err := x.fs.MkdirAll(x.dir, 0o755); err != nil {
		return err
	}
	names, err := x.fs.List(x.dir)
	if err != nil {
		return err
	}
	var removed []string
	var corrupt []unusableRun
	for _, name := range names {
		path := filepath.Join(x.dir, name)
		if strings.HasSuffix(name, tmpSuffix) {
			removed = append(removed, path)
			continue
		}
		from, upTo, ok := parseRunFileName(name)
		switch {
		case !ok:
			continue // not ours
		case from >= durable:
			removed = append(removed, path)
			continue
		}
		r, err := openRun(x.fs, path, from, upTo)
		if errors.Is(err, ErrCorrupt) {
			corrupt = append(corrupt, unusableRun{path: path, from: from, upTo: upTo})
			continue
		}
		if err != nil {
			return fmt.Errorf("open run %s: %w", name, err)
		}
		x.runs = append(x.runs, r)
	}
	covered := func(path string, from, upTo int64) bool {
		for _, s := range x.runs {
			if s.path != path && s.from <= from && upTo <= s.upTo {
				return true
			}
		}
		return false
	}
	var keep []*run
	for _, r := range x.runs {
		if covered(r.path, r.from, r.upTo) {
			removed = append(removed, r.path)
			r.unref()
			continue
		}
		keep = append(keep, r)
	}
	x.runs = keep
	for _, c := range corrupt {
		if covered(c.path, c.from, c.upTo) {
			removed = append(removed, c.path)
			continue
		}
		x.unusable = append(x.unusable, c)
		x.corrupt = append(x.corrupt, c.path)
	}
	slices.SortFunc(x.runs, func(a, b *run) int {
		if a.from != b.from {
			return compareInt64(a.from, b.from)
		}
		return compareInt64(a.upTo, b.upTo)
	})
	if len(removed) == 0 {
		return nil
	}
	for _, path := range removed {
		if err := x.fs.Remove(path); err != nil {
			return fmt.Errorf("remove %s: %w", path, err)
		}
	}
	return x.fs.SyncDir(x.dir)
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Add records an entry. Entries arrive with non-decreasing Pos from one
// goroutine. Add does not allocate once the in-memory part has grown to the
// size of one checkpoint interval.
func (x *Index) Add(e Entry) {
	x.mu.Lock()
	if !x.closed {
		x.mem = append(x.mem, e)
	}
	x.mu.Unlock()
}

// Checkpoint makes every entry with Pos < upTo durable: it writes the
// in-memory entries below upTo as one sorted run covering [from, upTo),
// where from is the previous checkpoint (or Open's durable), and syncs it and
// the directory. Entries at or above upTo stay in memory. Without new
// entries it only remembers upTo. The store must have made the log durable
// up to upTo first, and commits upTo as its checkpoint only once Checkpoint
// returned nil.
//
// When there are more than MaxRuns runs, Checkpoint then merges a few of
// them. A failed merge loses nothing and is not Checkpoint's error: it is
// counted in Stats and retried by the next Checkpoint.
func (x *Index) Checkpoint(upTo int64) error {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()

	x.mu.RLock()
	closed, from := x.closed, x.from
	n := sort.Search(len(x.mem), func(i int) bool { return x.mem[i].Pos >= upTo })
	var batch []Entry
	if !closed && upTo > from && n > 0 {
		batch = slices.Clone(x.mem[:n])
	}
	x.mu.RUnlock()
	switch {
	case closed:
		return ErrClosed
	case upTo < from:
		return fmt.Errorf("checkpoint key index at %d: before the previous checkpoint at %d", upTo, from)
	case upTo == from:
		return nil
	case n == 0:
		x.mu.Lock()
		x.from = upTo
		x.mu.Unlock()
		return nil
	}

	slices.SortFunc(batch, compareEntries)
	r, err := writeRun(x.fs, x.dir, x.blockEntries, from, upTo, &sliceSource{ents: batch})
	if err != nil {
		return fmt.Errorf("checkpoint key index at %d: %w", upTo, err)
	}
	x.mu.Lock()
	x.runs = append(x.runs, r)
	// Add only appends, so the first n entries are still the ones written.
	rest := copy(x.mem, x.mem[n:])
	clear(x.mem[rest:])
	x.mem = x.mem[:rest]
	x.shrinkMemLocked()
	x.from = upTo
	x.mu.Unlock()

	x.compact()
	return nil
}

// shrinkMemLocked gives back the memory of a burst: a slice four times larger
// than what it holds is reallocated (in Checkpoint, never in Add).
func (x *Index) shrinkMemLocked() {
	const minCap = 1 << 16
	if c := cap(x.mem); c > minCap && len(x.mem) < c/4 {
		mem := make([]Entry, len(x.mem), max(2*len(x.mem), minCap))
		copy(mem, x.mem)
		x.mem = mem
	}
}

// Lookup returns every entry with this hash, in memory and in runs, sorted by
// Pos then Index, without duplicates. A damaged block of a run is skipped
// and the run reported by CorruptRuns; other runs and blocks still answer.
func (x *Index) Lookup(hash uint64) ([]Entry, error) {
	x.mu.RLock()
	if x.closed {
		x.mu.RUnlock()
		return nil, ErrClosed
	}
	var out []Entry
	for _, e := range x.mem {
		if e.Hash == hash {
			out = append(out, e)
		}
	}
	runs := slices.Clone(x.runs)
	for _, r := range runs {
		r.ref()
	}
	x.mu.RUnlock()
	defer func() {
		for _, r := range runs {
			r.unref() // read-only: a close error tells nothing
		}
	}()

	bp, _ := x.bufPool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer x.bufPool.Put(bp)
	for _, r := range runs {
		if n := r.blockBufSize(); len(*bp) < n {
			*bp = make([]byte, n)
		}
		var err error
		out, err = r.lookup(hash, *bp, out)
		if errors.Is(err, ErrCorrupt) {
			x.noteCorrupt(r)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look up key hash %#x in %s: %w", hash, r.path, err)
		}
	}
	slices.SortFunc(out, compareByPos)
	return slices.Compact(out), nil
}

// noteCorrupt records that a block of r failed its checks.
func (x *Index) noteCorrupt(r *run) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !r.bad {
		r.bad = true
		x.corrupt = append(x.corrupt, r.path)
	}
}

// CorruptRuns returns the paths of the runs found corrupt since Open: at Open
// (a bad header, size or fence: the run is left out) or later when a block
// failed its checks (the run's other blocks are still searched). Entries in
// them may be missing from lookups; the store should count and report them.
func (x *Index) CorruptRuns() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Clone(x.corrupt)
}

// Stats returns counters for metrics.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := x.stats
	s.MemEntries = len(x.mem)
	s.Runs = len(x.runs)
	for _, r := range x.runs {
		s.RunEntries += r.count
	}
	return s
}

// DropBefore deletes the runs whose whole range lies below pos, because
// retention removed those log segments, and forgets in-memory entries below
// pos.
func (x *Index) DropBefore(pos int64) error {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()

	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return ErrClosed
	}
	n := sort.Search(len(x.mem), func(i int) bool { return x.mem[i].Pos >= pos })
	rest := copy(x.mem, x.mem[n:])
	clear(x.mem[rest:])
	x.mem = x.mem[:rest]
	var drop []*run
	keep := x.runs[:0:0]
	for _, r := range x.runs {
		if r.upTo <= pos {
			drop = append(drop, r)
		} else {
			keep = append(keep, r)
		}
	}
	x.runs = keep
	var paths []string
	unusable := x.unusable[:0:0]
	for _, u := range x.unusable {
		if u.upTo <= pos {
			paths = append(paths, u.path)
		} else {
			unusable = append(unusable, u)
		}
	}
	x.unusable = unusable
	x.mu.Unlock()

	// Lookups in flight hold their own references to the dropped runs.
	var errs []error
	for _, r := range drop {
		paths = append(paths, r.path)
		errs = append(errs, r.unref())
	}
	for _, p := range paths {
		if err := x.fs.Remove(p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(paths) > 0 {
		errs = append(errs, x.fs.SyncDir(x.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("drop key index runs before %d: %w", pos, err)
	}
	return nil
}

// Close releases the run files (a Lookup in flight keeps the ones it reads
// open until it returns); later calls return ErrClosed. Entries not checkpointed are lost, as the store expects:
// it replays them from the log.
func (x *Index) Close() error {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	x.mem = nil
	x.mu.Unlock()
	if err := x.closeRuns(); err != nil {
		return fmt.Errorf("close key index %s: %w", x.dir, err)
	}
	return nil
}

func (x *Index) closeRuns() error {
	x.mu.Lock()
	runs := x.runs
	x.runs = nil
	x.mu.Unlock()
	var errs []error
	for _, r := range runs {
		errs = append(errs, r.unref())
	}
	return errors.Join(errs...)
}
