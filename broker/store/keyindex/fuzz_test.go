package keyindex

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"
)

// FuzzOpenRun hands arbitrary bytes to Open as the run [0, 1000) and looks up
// hashes found in them: nothing may panic, and a run that opens and whose
// blocks all pass their checks must answer every entry it holds. With
// fixCRCs the checksums are recomputed first, so that mutations reach the
// checks behind them (sizes, fence and block order).
func FuzzOpenRun(f *testing.F) {
	dir := f.TempDir() // one per process: a temp dir per input is slow
	f.Fuzz(func(t *testing.T, data []byte, fixCRCs bool) {
		if fixCRCs {
			data = fixChecksums(data)
		}
		path := runPath(dir, 0, 1000)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		x, err := Open(Config{Dir: dir}, 1000)
		if err != nil {
			t.Fatalf("Open: %v", err) // damage is reported, not returned
		}
		defer x.Close()

		hashes := []uint64{0, 1<<64 - 1}
		for off := headerSize; off+8 <= len(data) && len(hashes) < 40; off += entrySize {
			hashes = append(hashes, binary.LittleEndian.Uint64(data[off:]))
		}
		for _, h := range hashes {
			if _, err := x.Lookup(h); err != nil {
				t.Fatalf("Lookup(%#x): %v", h, err)
			}
		}
		if len(x.runs) != 1 {
			return
		}
		it := newRunIter(x.runs[0])
		var all []Entry
		for {
			e, ok, err := it.next()
			if err != nil {
				return // damage inside a block: reported by lookups
			}
			if !ok {
				break
			}
			all = append(all, e)
		}
		if uint64(len(all)) != x.runs[0].count {
			t.Fatalf("run yields %d entries, header says %d", len(all), x.runs[0].count)
		}
		for _, e := range all[:min(len(all), 100)] {
			got, err := x.Lookup(e.Hash)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, g := range got {
				found = found || g == e
			}
			if !found {
				t.Fatalf("Lookup(%#x) = %v, misses %v", e.Hash, got, e)
			}
		}
	})
}

// fixChecksums returns data with every crc a run file has recomputed, as far
// as its header and size allow.
func fixChecksums(data []byte) []byte {
	if len(data) < headerSize {
		return data
	}
	b := append([]byte(nil), data...)
	le := binary.LittleEndian
	le.PutUint32(b[32:], crc32.Checksum(b[:32], castagnoli))
	h := runHeader{blockEntries: int(le.Uint16(b[6:])), count: le.Uint64(b[24:])}
	if h.blockEntries == 0 {
		return b
	}
	l, ok := computeLayout(h, int64(len(b)))
	if !ok || l.fileSize != int64(len(b)) {
		return b
	}
	for blk := uint64(0); blk < l.blocks; blk++ {
		n := min(uint64(h.blockEntries), h.count-blk*uint64(h.blockEntries))
		off := headerSize + int64(blk)*l.blockStride
		end := off + int64(n)*entrySize
		le.PutUint32(b[end:], crc32.Checksum(b[off:end], castagnoli))
	}
	fence := b[l.fenceOff : len(b)-crcSize]
	le.PutUint32(b[len(b)-crcSize:], crc32.Checksum(fence, castagnoli))
	return b
}
