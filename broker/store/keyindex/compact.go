package keyindex

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// maxMergeWidth bounds how many runs one compaction merges, and so the work
// of one Checkpoint and the number of files a merge holds open.
const maxMergeWidth = 8

// pickCompaction chooses the adjacent runs [i, j) to merge when there are
// more than maxRuns, or returns ok false. Among the windows of 2 to
// maxMergeWidth adjacent runs with no damaged run, it takes the one with the
// lowest cost per run removed, where the cost is the entries rewritten times
// the square of skew (largest run / the others): merging runs of similar
// size is cheap, folding a small run into a huge one is dear. New runs are
// small, so they merge among themselves first and the merged runs grow
// geometrically, as in a size-tiered LSM; each entry is rewritten about
// log(N) times. In simulation, 16 runs rewrite each entry about 6 times.
func pickCompaction(runs []*run, maxRuns int) (i, j int, ok bool) {
	if len(runs) <= maxRuns {
		return 0, 0, false
	}
	best := math.Inf(1)
	for a := range runs {
		var total, largest float64
		upTo := runs[a].upTo
		for b := a; b < len(runs) && b-a < maxMergeWidth; b++ {
			if runs[b].bad {
				break
			}
			c := float64(max(runs[b].count, 1))
			total += c
			largest = max(largest, c)
			upTo = max(upTo, runs[b].upTo)
			width := b - a + 1
			if width < 2 || coversWindow(runs[a:b+1], runs[a].from, upTo) {
				continue
			}
			skew := largest / (total - largest)
			if cost := total * skew * skew / float64(width-1); cost < best {
				best, i, j, ok = cost, a, b+1, true
			}
		}
	}
	return i, j, ok
}

// coversWindow reports whether one of runs covers [from, upTo), the range of
// their merge. That happens only after a crash left a merged run extending
// past the store's checkpoint (see doc.go); the merge would get that run's
// name, and a failure after its rename would remove the run itself, so such
// a window waits until a later run extends it.
func coversWindow(runs []*run, from, upTo int64) bool {
	for _, r := range runs {
		if r.from == from && r.upTo == upTo {
			return true
		}
	}
	return false
}

// compact merges some runs if there are more than maxRuns: it writes the
// merged run (atomically), swaps it in for its inputs, then removes them. A
// crash leaves the inputs, or the output and possibly some inputs, which
// Open removes as covered. Failures are counted in Stats. Called with writeMu
// held, so x.runs only changes here.
func (x *Index) compact() {
	err := x.compactOnce()
	if err == nil {
		return
	}
	x.mu.Lock()
	x.stats.CompactionErrors++
	x.stats.LastCompactionError = err
	x.mu.Unlock()
}

func (x *Index) compactOnce() error {
	x.mu.RLock()
	i, j, ok := pickCompaction(x.runs, x.maxRuns)
	var inputs []*run
	if ok {
		inputs = slices.Clone(x.runs[i:j])
	}
	x.mu.RUnlock()
	if !ok {
		return nil
	}
	from, upTo := inputs[0].from, inputs[0].upTo
	for _, r := range inputs[1:] {
		upTo = max(upTo, r.upTo)
	}
	out, err := x.merge(inputs, from, upTo)
	if err != nil {
		return fmt.Errorf("compact key index runs [%d, %d): %w", from, upTo, err)
	}

	x.mu.Lock()
	runs := make([]*run, 0, len(x.runs)-len(inputs)+1)
	runs = append(runs, x.runs[:i]...)
	runs = append(runs, out)
	runs = append(runs, x.runs[j:]...)
	x.runs = runs
	x.stats.Compactions++
	x.mu.Unlock()

	var errs []error
	for _, r := range inputs {
		errs = append(errs, x.fs.Remove(r.path), r.unref())
	}
	errs = append(errs, x.fs.SyncDir(x.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove key index runs merged into %s: %w", out.path, err)
	}
	return nil
}

// merge writes the entries of inputs as one run covering [from, upTo). A
// damaged input marks its run bad, so that it is not picked again.
func (x *Index) merge(inputs []*run, from, upTo int64) (*run, error) {
	src, err := newMergeSource(inputs)
	if err == nil {
		var out *run
		out, err = writeRun(x.fs, x.dir, x.blockEntries, from, upTo, src)
		if err == nil {
			return out, nil
		}
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		for _, r := range inputs {
			if r.path == ce.File {
				x.noteCorrupt(r)
			}
		}
	}
	return nil, err
}
