package keyindex

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"zero dir", Config{}, "key index: dir is empty"},
		{"negative max runs", Config{Dir: "d", MaxRuns: -1}, "key index: max runs is -1, must not be negative"},
		{"defaults", Config{Dir: "d"}, ""},
		{"all set", Config{FS: vfs.Default, Dir: "d", MaxRuns: 4}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.err != "" && (err == nil || err.Error() != tt.err):
				t.Fatalf("Validate = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestRunFileName(t *testing.T) {
	name := runFileName(12, 1<<40)
	if name != "run-00000000000000000012-00000001099511627776.kx" {
		t.Fatalf("runFileName = %s", name)
	}
	if from, upTo, ok := parseRunFileName(name); !ok || from != 12 || upTo != 1<<40 {
		t.Fatalf("parse %s = %d, %d, %v", name, from, upTo, ok)
	}
	for _, bad := range []string{
		"run-00000000000000000012-00000000000000000012.kx", // empty range
		"run-00000000000000000013-00000000000000000012.kx",
		"run-0000000000000000001x-00000000000000000012.kx",
		"run-+0000000000000000001-00000000000000000012.kx",
		"run-00000000000000000001-00000000000000000012.kx.tmp",
		"run-1-2.kx", "LOCK", "",
	} {
		if _, _, ok := parseRunFileName(bad); ok {
			t.Errorf("parse %q succeeded", bad)
		}
	}
}

func TestAddLookup(t *testing.T) {
	tests := []struct {
		name        string
		checkpoints []float64 // checkpoint positions, as fractions of the entries
	}{
		{"memory only", nil},
		{"all checkpointed", []float64{1.01}},
		{"half checkpointed", []float64{0.5}},
		{"several", []float64{0.1, 0.3, 0.3, 0.7}},
	}
	for _, tt := range tests {
		for _, blockEntries := range []int{3, defaultBlockEntries} {
			t.Run(tt.name, func(t *testing.T) {
				dir := t.TempDir()
				x := openT(t, Config{Dir: dir}, 0, blockEntries)
				r := rand.New(rand.NewPCG(1, 2))
				var pos int64
				es := gen(r, &pos, 2000, 300)
				m := newModel()
				m.add(es...)
				addAll(x, es)
				m.check(t, x)
				for _, f := range tt.checkpoints {
					checkpoint(t, x, int64(f*float64(pos)))
					m.check(t, x)
				}
				if st := x.Stats(); st.MemEntries+int(st.RunEntries) != len(es) {
					t.Fatalf("stats %+v, want %d entries", st, len(es))
				}
			})
		}
	}
}

func TestLookupDeduplicates(t *testing.T) {
	x := openT(t, Config{Dir: t.TempDir()}, 0, 0)
	e := Entry{Hash: 7, Pos: 10, Index: 2}
	x.Add(e)
	x.Add(e)
	checkLookup(t, x, 7, []Entry{e})
	checkpoint(t, x, 11)
	if st := x.Stats(); st.RunEntries != 1 {
		t.Fatalf("run holds %d entries, want 1", st.RunEntries)
	}
	x.Add(Entry{Hash: 7, Pos: 10, Index: 1}) // out of range, still found
	x.Add(Entry{Hash: 7, Pos: 12, Index: 0})
	checkLookup(t, x, 7, []Entry{{7, 10, 1}, e, {7, 12, 0}})
}

func TestLookupAcrossManyRuns(t *testing.T) {
	dir := t.TempDir()
	x := openT(t, Config{Dir: dir, MaxRuns: 1000}, 0, 4)
	r := rand.New(rand.NewPCG(3, 4))
	m := newModel()
	var pos int64
	for range 60 {
		es := gen(r, &pos, 1+r.IntN(80), 40)
		m.add(es...)
		addAll(x, es)
		checkpoint(t, x, pos)
	}
	if n := len(runFiles(t, dir)); n != 60 {
		t.Fatalf("%d run files, want 60", n)
	}
	m.check(t, x)
	// A key present in every run spans blocks and runs.
	hot := keyHash(1000)
	var want []Entry
	pos += 10
	for i := range 3000 {
		e := Entry{Hash: hot, Pos: pos, Index: uint32(i % 5)}
		x.Add(e)
		want = append(want, e)
		if i%5 == 4 {
			pos++
		}
		if i%700 == 0 {
			checkpoint(t, x, pos)
		}
	}
	checkLookup(t, x, hot, want)
}

func TestCompaction(t *testing.T) {
	for _, maxRuns := range []int{1, 2, 4, 16} {
		t.Run("", func(t *testing.T) {
			dir := t.TempDir()
			x := openT(t, Config{Dir: dir, MaxRuns: maxRuns}, 0, 5)
			r := rand.New(rand.NewPCG(5, uint64(maxRuns)))
			m := newModel()
			var pos int64
			for i := range 80 {
				es := gen(r, &pos, 1+r.IntN(60), 100)
				m.add(es...)
				addAll(x, es)
				checkpoint(t, x, pos)
				st := x.Stats()
				if st.Runs > maxRuns {
					t.Fatalf("checkpoint %d: %d runs, max %d", i, st.Runs, maxRuns)
				}
				if st.CompactionErrors != 0 {
					t.Fatalf("compaction: %v", st.LastCompactionError)
				}
				if i%10 == 0 {
					m.check(t, x)
				}
			}
			st := x.Stats()
			if st.Compactions == 0 {
				t.Fatal("no compaction")
			}
			if n := len(runFiles(t, dir)); n != st.Runs {
				t.Fatalf("%d run files, stats say %d", n, st.Runs)
			}
			checkDisjoint(t, dir)
			m.check(t, x)
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			m.check(t, openT(t, Config{Dir: dir, MaxRuns: maxRuns}, pos, 0))
		})
	}
}

func TestPickCompactionPrefersSimilarSizes(t *testing.T) {
	runs := func(counts ...uint64) []*run {
		var rs []*run
		for i, c := range counts {
			rs = append(rs, &run{from: int64(i), upTo: int64(i + 1), count: c})
		}
		return rs
	}
	tests := []struct {
		counts []uint64
		bad    int // index of a damaged run, -1 for none
		i, j   int
		ok     bool
	}{
		{[]uint64{1000, 10, 10, 10, 10}, -1, 1, 5, true},
		{[]uint64{100, 100, 1000}, -1, 0, 2, true},
		{[]uint64{1000, 500, 10, 10}, -1, 2, 4, true},
		{[]uint64{1000, 10, 10, 10, 10}, 3, 1, 3, true},
		{[]uint64{5, 5, 5}, 1, 0, 0, false},
		{[]uint64{5, 5}, -1, 0, 0, false}, // not more than maxRuns
	}
	for _, tt := range tests {
		rs := runs(tt.counts...)
		if tt.bad >= 0 {
			rs[tt.bad].bad = true
		}
		i, j, ok := pickCompaction(rs, 2)
		if i != tt.i || j != tt.j || ok != tt.ok {
			t.Errorf("pickCompaction(%v, bad %d) = %d, %d, %v; want %d, %d, %v", tt.counts, tt.bad, i, j, ok, tt.i, tt.j, tt.ok)
		}
	}
}

func TestReopen(t *testing.T) {
	// Three checkpoints at 1000, 2000 and 3000, then entries up to 3500 in
	// memory; reopen as if the store's last checkpoint was durable.
	tests := []struct {
		name      string
		durable   int64
		wantFiles int
	}{
		{"at last checkpoint", 3000, 3},
		{"crash before the store's checkpoint", 2000, 2},
		{"inside a run", 1500, 2}, // [1000,2000) is kept and overlaps the replay
		{"nothing durable", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			x := openT(t, Config{Dir: dir}, 0, 7)
			m := newModel()
			var all []Entry
			for p := int64(0); p < 3500; p += 5 {
				e := Entry{Hash: keyHash(int(p) % 97), Pos: p}
				x.Add(e)
				all = append(all, e)
				if p > 0 && p%1000 == 995 {
					checkpoint(t, x, p+5)
				}
			}
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			y := openT(t, Config{Dir: dir}, tt.durable, 7)
			if n := len(runFiles(t, dir)); n != tt.wantFiles {
				t.Fatalf("%d run files, want %d", n, tt.wantFiles)
			}
			// Runs are whole: entries of runs starting below durable are found.
			kept := (tt.durable + 999) / 1000 * 1000
			for _, e := range all {
				if e.Pos < kept {
					m.add(e)
				}
			}
			m.check(t, y)
			// The store replays the log from durable.
			for _, e := range all {
				if e.Pos >= tt.durable {
					y.Add(e)
					m.add(e)
				}
			}
			m.check(t, y)
			checkpoint(t, y, 3500)
			if err := y.Close(); err != nil {
				t.Fatal(err)
			}
			z := openT(t, Config{Dir: dir}, 3500, 0)
			m.check(t, z)
			checkDisjoint(t, dir)
		})
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{runFileName(0, 10) + tmpSuffix, "other.kx.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A torn run written after the durable point is simply deleted.
	if err := os.WriteFile(runPath(dir, 100, 200), []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	x := openT(t, Config{Dir: dir}, 100, 0)
	if c := x.CorruptRuns(); len(c) != 0 {
		t.Fatalf("CorruptRuns = %v", c)
	}
	names, _ := vfs.Default.List(dir)
	if !slices.Equal(names, []string{"README"}) {
		t.Fatalf("dir holds %v", names)
	}
}

func TestDropBefore(t *testing.T) {
	dir := t.TempDir()
	x := openT(t, Config{Dir: dir}, 0, 3)
	m := newModel()
	for p := int64(0); p < 350; p++ {
		e := Entry{Hash: keyHash(int(p % 13)), Pos: p}
		x.Add(e)
		m.add(e)
		if p%100 == 99 {
			checkpoint(t, x, p+1)
		}
	}
	steps := []struct {
		pos       int64
		wantFiles int
	}{
		{50, 3},  // no run lies wholly below 50
		{200, 1}, // [0,100) and [100,200) go
		{320, 0}, // [200,300) goes, memory below 320 is forgotten
	}
	for _, s := range steps {
		if err := x.DropBefore(s.pos); err != nil {
			t.Fatalf("DropBefore(%d): %v", s.pos, err)
		}
		if n := len(runFiles(t, dir)); n != s.wantFiles {
			t.Fatalf("after DropBefore(%d): %d run files, want %d", s.pos, n, s.wantFiles)
		}
		// Entries below pos may linger in a run that also holds later
		// ones (stale entries are allowed); whole runs below pos are gone.
		lo := s.pos / 100 * 100
		if s.pos >= 300 {
			lo = s.pos
		}
		m.dropBefore(lo)
		m.check(t, x)
	}
	if st := x.Stats(); st.MemEntries != 30 {
		t.Fatalf("%d entries in memory, want 30", st.MemEntries)
	}
}

// writeThreeRuns writes runs [0,1000), [1000,2000) and [2000,3000) with
// blocks of 4 entries and returns what they hold.
func writeThreeRuns(t *testing.T, dir string) *model {
	t.Helper()
	x := openT(t, Config{Dir: dir}, 0, 4)
	m := newModel()
	for p := int64(0); p < 3000; p += 10 {
		e := Entry{Hash: keyHash(int(p) / 10), Pos: p} // one entry per hash
		x.Add(e)
		m.add(e)
		if p%1000 == 990 {
			checkpoint(t, x, p+10)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCorruptRun(t *testing.T) {
	// Damage to run [1000,2000): 100 entries, 25 blocks of 4.
	const fenceOff = headerSize + 100*entrySize + 25*crcSize
	tests := []struct {
		name     string
		damage   func(t *testing.T, path string)
		atOpen   bool // found by Open, so the whole run is left out
		lostFrom int  // entries [lostFrom, lostTo) of the run, in hash order,
		lostTo   int  // may be missing
	}{
		{"header bit", func(t *testing.T, p string) { flipBit(t, p, 10) }, true, 0, 100},
		{"magic", func(t *testing.T, p string) { flipBit(t, p, 0) }, true, 0, 100},
		{"count", func(t *testing.T, p string) { flipBit(t, p, 24) }, true, 0, 100},
		{"fence bit", func(t *testing.T, p string) { flipBit(t, p, fenceOff+3) }, true, 0, 100},
		{"entry bit in block 5", func(t *testing.T, p string) {
			flipBit(t, p, headerSize+5*(4*entrySize+crcSize)+2*entrySize+9)
		}, false, 20, 24},
		{"block crc", func(t *testing.T, p string) {
			flipBit(t, p, headerSize+7*(4*entrySize+crcSize)+4*entrySize)
		}, false, 28, 32},
		{"torn", func(t *testing.T, p string) {
			if err := os.Truncate(p, 1500); err != nil {
				t.Fatal(err)
			}
		}, true, 0, 100},
		{"empty", func(t *testing.T, p string) {
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
		}, true, 0, 100},
		{"grown", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(make([]byte, 20))
			f.Close()
		}, true, 0, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			m := writeThreeRuns(t, dir)
			path := runPath(dir, 1000, 2000)
			tt.damage(t, path)
			x := openT(t, Config{Dir: dir, MaxRuns: 2}, 3000, 0)
			if got := x.CorruptRuns(); tt.atOpen != (len(got) == 1) {
				t.Fatalf("after Open, CorruptRuns = %v", got)
			}
			var damaged []uint64 // hashes of the run, in the run's order
			for h, es := range m.byHash {
				if es[0].Pos >= 1000 && es[0].Pos < 2000 {
					damaged = append(damaged, h)
				}
			}
			slices.Sort(damaged)
			lost := map[uint64]bool{}
			for _, h := range damaged[tt.lostFrom:tt.lostTo] {
				lost[h] = true
			}
			for h, es := range m.byHash {
				got, err := x.Lookup(h)
				if err != nil {
					t.Fatalf("Lookup: %v", err)
				}
				if !lost[h] && !slices.Equal(got, es) {
					t.Fatalf("Lookup(%#x) = %v, want %v", h, got, es)
				}
			}
			if got := x.CorruptRuns(); !slices.Equal(got, []string{path}) {
				t.Fatalf("CorruptRuns = %v, want %s", got, path)
			}
			// A damaged run is never merged, and nothing else is lost by
			// merges around it.
			var pos int64 = 3000
			for range 4 {
				e := Entry{Hash: 1, Pos: pos}
				x.Add(e)
				m.add(e)
				pos += 10
				checkpoint(t, x, pos)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("damaged run is gone: %v", err)
			}
			checkLookup(t, x, 1, m.want(1))
			if err := x.DropBefore(2000); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("damaged run survived DropBefore: %v", err)
			}
		})
	}
}

func TestCorruptRunCoveredByMerge(t *testing.T) {
	// A merge crashed before removing its inputs; one input rotted. The
	// merged run covers it, so Open deletes it without reporting it.
	dir := t.TempDir()
	m := writeThreeRuns(t, dir)
	x := openT(t, Config{Dir: dir, MaxRuns: 1}, 3000, 0)
	inputs := slices.Clone(x.runs[:2])
	if _, err := x.merge(inputs, 0, 2000); err != nil {
		t.Fatal(err)
	}
	x.Close()
	flipBit(t, runPath(dir, 0, 1000), 3)
	y := openT(t, Config{Dir: dir}, 3000, 0)
	if c := y.CorruptRuns(); len(c) != 0 {
		t.Fatalf("CorruptRuns = %v", c)
	}
	m.check(t, y)
	if n := len(runFiles(t, dir)); n != 2 {
		t.Fatalf("%d run files, want 2", n)
	}
}

// failOn fails op on files whose base name starts with prefix.
func failOn(op vfs.Op, prefix string) vfs.Injector {
	return func(o vfs.Op, name string) error {
		if o == op && strings.HasPrefix(filepath.Base(name), prefix) {
			return syscall.EIO
		}
		return nil
	}
}

func TestCheckpointFailure(t *testing.T) {
	tests := []struct {
		name    string
		inject  vfs.Injector
		noSpace bool
	}{
		{"create", failOn(vfs.OpCreate, "run-"), false},
		{"write", failOn(vfs.OpWrite, "run-"), false},
		{"sync", failOn(vfs.OpSync, "run-"), false},
		{"rename", failOn(vfs.OpRename, "run-"), false},
		{"sync dir", func(o vfs.Op, _ string) error {
			if o == vfs.OpSyncDir {
				return syscall.EIO
			}
			return nil
		}, false},
		{"reopen", failOn(vfs.OpOpen, "run-"), false},
		{"disk full", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := vfs.NewFaultFS(vfs.Default)
			x := openT(t, Config{FS: fs, Dir: dir}, 0, 4)
			r := rand.New(rand.NewPCG(7, 8))
			m := newModel()
			var pos int64
			es := gen(r, &pos, 500, 50)
			m.add(es...)
			addAll(x, es)
			checkpoint(t, x, pos/2)

			fs.Inject(tt.inject)
			fs.SetNoSpace(tt.noSpace)
			if err := x.Checkpoint(pos); err == nil {
				t.Fatal("Checkpoint succeeded despite the fault")
			}
			fs.Inject(nil)
			fs.SetNoSpace(false)
			m.check(t, x) // the entries are still in memory

			more := gen(r, &pos, 100, 50)
			m.add(more...)
			addAll(x, more)
			checkpoint(t, x, pos)
			m.check(t, x)
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			y := openT(t, Config{FS: fs, Dir: dir}, pos, 0)
			m.check(t, y)
			checkDisjoint(t, dir)
		})
	}
}

func TestCrashDuringCompaction(t *testing.T) {
	// Runs [0,100) ... [300,400) with MaxRuns 3: the checkpoint at 400
	// merges, and its output starts at 0 ("run-000...0-").
	out := runFileName(0, 1)[:len(runPrefix)+posDigits+1]
	tests := []struct {
		name       string
		inject     vfs.Injector
		wantErrors uint64
	}{
		{"write output", failOn(vfs.OpWrite, out), 1},
		{"sync output", failOn(vfs.OpSync, out), 1},
		{"rename output", failOn(vfs.OpRename, out), 1},
		{"reopen output", failOn(vfs.OpOpen, out), 1},
		{"remove inputs", func(o vfs.Op, name string) error {
			if o == vfs.OpRemove {
				return syscall.EIO
			}
			return nil
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := vfs.NewFaultFS(vfs.Default)
			x := openT(t, Config{FS: fs, Dir: dir, MaxRuns: 3}, 0, 4)
			m := newModel()
			for p := int64(0); p < 400; p++ {
				e := Entry{Hash: keyHash(int(p % 17)), Pos: p, Index: uint32(p % 3)}
				x.Add(e)
				m.add(e)
				if p%100 == 99 && p < 300 {
					checkpoint(t, x, p+1)
				}
			}
			fs.Inject(tt.inject)
			checkpoint(t, x, 400) // the run is written; the merge fails
			st := x.Stats()
			if st.CompactionErrors != tt.wantErrors {
				t.Fatalf("stats %+v, want %d compaction errors", st, tt.wantErrors)
			}
			m.check(t, x)
			fs.Inject(nil)

			// Crash: reopen without closing x.
			y := openT(t, Config{FS: fs, Dir: dir, MaxRuns: 3}, 400, 0)
			m.check(t, y)
			checkDisjoint(t, dir)
			if n := len(runFiles(t, dir)); n != y.Stats().Runs {
				t.Fatalf("%d run files, %d runs", n, y.Stats().Runs)
			}
		})
	}
}

func TestCrashAfterMergeBeforeStoreCheckpoint(t *testing.T) {
	// The checkpoint at 400 writes [300,400) and merges it with older runs
	// into [0,400); the store crashes before committing 400, so it reopens
	// at 300 and replays [300,400). The merged run extends past durable.
	dir := t.TempDir()
	x := openT(t, Config{Dir: dir, MaxRuns: 3}, 0, 4)
	m := newModel()
	var all []Entry
	for p := int64(0); p < 400; p++ {
		e := Entry{Hash: keyHash(int(p % 17)), Pos: p}
		x.Add(e)
		m.add(e)
		all = append(all, e)
		if p%100 == 99 {
			checkpoint(t, x, p+1)
		}
	}
	if x.Stats().Compactions == 0 {
		t.Fatal("no compaction")
	}
	y := openT(t, Config{Dir: dir, MaxRuns: 3}, 300, 4)
	m.check(t, y)
	addAll(y, all[300:])
	for p := int64(400); p < 1000; p++ {
		e := Entry{Hash: keyHash(int(p % 17)), Pos: p}
		y.Add(e)
		m.add(e)
		if p%50 == 49 {
			checkpoint(t, y, p+1)
			m.check(t, y)
		}
	}
	if st := y.Stats(); st.CompactionErrors != 0 {
		t.Fatalf("compaction: %v", st.LastCompactionError)
	}
	z := openT(t, Config{Dir: dir}, 1000, 0)
	m.check(t, z)
}

func TestCheckpointRules(t *testing.T) {
	dir := t.TempDir()
	x := openT(t, Config{Dir: dir}, 100, 0)
	if err := x.Checkpoint(50); err == nil {
		t.Fatal("checkpoint before durable succeeded")
	}
	checkpoint(t, x, 100) // nothing new
	checkpoint(t, x, 200) // nothing new, remembered
	x.Add(Entry{Hash: 1, Pos: 250})
	x.Add(Entry{Hash: 2, Pos: 300})
	checkpoint(t, x, 300)
	if names := runFiles(t, dir); !slices.Equal(names, []string{runFileName(200, 300)}) {
		t.Fatalf("run files %v", names)
	}
	if st := x.Stats(); st.MemEntries != 1 || st.RunEntries != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{x.Checkpoint(400), x.DropBefore(0), func() error { _, err := x.Lookup(1); return err }()} {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	}
}

func TestConcurrentLookup(t *testing.T) {
	dir := t.TempDir()
	x := openT(t, Config{Dir: dir, MaxRuns: 3}, 0, 8)
	const n = 20000
	const dropLimit = n / 2 // DropBefore never passes it; lookups stay above
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Hash: keyHash(i), Pos: int64(i)}
	}
	var added atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				a := added.Load()
				if a <= dropLimit {
					continue
				}
				e := es[dropLimit+r.Int64N(a-dropLimit)]
				got, err := x.Lookup(e.Hash)
				if err != nil || !slices.Equal(got, []Entry{e}) {
					errc <- errors.Join(err, errors.New("lookup missed an entry"))
					return
				}
			}
		}()
	}
	for i, e := range es {
		x.Add(e)
		added.Store(int64(i + 1))
		if i%500 == 499 {
			if err := x.Checkpoint(int64(i - 100)); err != nil {
				t.Error(err)
			}
		}
		if i%3000 == 2999 {
			if err := x.DropBefore(int64(min(i/2, dropLimit))); err != nil {
				t.Error(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if st := x.Stats(); st.Compactions == 0 || st.CompactionErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}
