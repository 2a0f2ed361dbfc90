package keyindex

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// model is what the index must answer: every entry added and not dropped.
type model struct {
	byHash map[uint64][]Entry
}

func newModel() *model { return &model{byHash: map[uint64][]Entry{}} }

func (m *model) add(es ...Entry) {
	for _, e := range es {
		m.byHash[e.Hash] = append(m.byHash[e.Hash], e)
	}
}

func (m *model) dropBefore(pos int64) {
	for h, es := range m.byHash {
		es = slices.DeleteFunc(es, func(e Entry) bool { return e.Pos < pos })
		if len(es) == 0 {
			delete(m.byHash, h)
		} else {
			m.byHash[h] = es
		}
	}
}

func (m *model) want(h uint64) []Entry {
	es := slices.Clone(m.byHash[h])
	slices.SortFunc(es, compareByPos)
	return slices.Compact(es)
}

// check looks up every hash of the model and a few absent ones.
func (m *model) check(t *testing.T, x *Index) {
	t.Helper()
	for h := range m.byHash {
		checkLookup(t, x, h, m.want(h))
	}
	for _, h := range []uint64{0, 1, 1<<64 - 1, 0xdeadbeefcafe} {
		if _, ok := m.byHash[h]; !ok {
			checkLookup(t, x, h, nil)
		}
	}
}

func checkLookup(t *testing.T, x *Index, h uint64, want []Entry) {
	t.Helper()
	got, err := x.Lookup(h)
	if err != nil {
		t.Fatalf("Lookup(%#x): %v", h, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Lookup(%#x) = %v, want %v", h, got, want)
	}
}

// gen makes records at increasing positions from *pos, each with 1 to 3
// keyed messages; keys repeat (keys distinct hashes) so that lookups find
// several entries, in several runs and blocks.
func gen(r *rand.Rand, pos *int64, records, keys int) []Entry {
	var es []Entry
	for range records {
		for i := range 1 + r.IntN(3) {
			es = append(es, Entry{Hash: keyHash(r.IntN(keys)), Pos: *pos, Index: uint32(i)})
		}
		*pos += 1 + r.Int64N(100)
	}
	return es
}

func keyHash(k int) uint64 {
	x := uint64(k) + 0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	return x
}

func addAll(x *Index, es []Entry) {
	for _, e := range es {
		x.Add(e)
	}
}

// openT opens an index that is closed when the test ends; blockEntries > 0
// shrinks the blocks of new runs so that small tests span many blocks.
func openT(t testing.TB, cfg Config, durable int64, blockEntries int) *Index {
	t.Helper()
	x, err := Open(cfg, durable)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if blockEntries > 0 {
		x.blockEntries = blockEntries
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func checkpoint(t *testing.T, x *Index, upTo int64) {
	t.Helper()
	if err := x.Checkpoint(upTo); err != nil {
		t.Fatalf("Checkpoint(%d): %v", upTo, err)
	}
}

// runFiles lists the run files in dir, and fails on leftover temp files.
func runFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := vfs.Default.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var runs []string
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, tmpSuffix):
			t.Fatalf("leftover temp file %s", n)
		case strings.HasSuffix(n, runSuffix):
			runs = append(runs, n)
		}
	}
	return runs
}

// checkDisjoint fails if one run file's range covers another's.
func checkDisjoint(t *testing.T, dir string) {
	t.Helper()
	names := runFiles(t, dir)
	for _, a := range names {
		af, au, _ := parseRunFileName(a)
		for _, b := range names {
			bf, bu, _ := parseRunFileName(b)
			if a != b && bf <= af && au <= bu {
				t.Fatalf("run %s is covered by %s", a, b)
			}
		}
	}
}

func flipBit(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x10
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runPath(dir string, from, upTo int64) string {
	return filepath.Join(dir, runFileName(from, upTo))
}
