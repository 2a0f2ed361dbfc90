package keyindex

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"sync/atomic"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// run is one open, immutable run file. Its header and fence were checked when
// it was opened; blocks are checked every time they are read.
type run struct {
	path         string
	from, upTo   int64
	count        uint64
	blockEntries int
	layout       layout
	fence        []uint64 // first hash of every block
	f            vfs.File

	// refs counts the index's reference and those of lookups and
	// compactions in flight; the file is closed when it drops to zero.
	refs atomic.Int32
	// bad is set (under Index.mu) once a block failed its checks: the run is
	// still searched, block by block, but never compacted.
	bad bool
}

func (r *run) ref() { r.refs.Add(1) }

func (r *run) unref() error {
	if r.refs.Add(-1) == 0 {
		return r.f.Close()
	}
	return nil
}

// openRun opens the run file at path and checks its header, size and fence.
// from and upTo are the range its name claims. Damage is a *CorruptError.
func openRun(fs vfs.FS, path string, from, upTo int64) (*run, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := loadRun(f, path, from, upTo)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.refs.Store(1)
	return r, nil
}

func loadRun(f vfs.File, path string, from, upTo int64) (*run, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < headerSize+crcSize {
		return nil, corruptf(path, 0, "file of %d bytes is shorter than a header and footer", size)
	}
	var hb [headerSize]byte
	if err := readFull(f, path, hb[:], 0); err != nil {
		return nil, err
	}
	h, err := decodeHeader(path, hb[:])
	if err != nil {
		return nil, err
	}
	if h.from != from || h.upTo != upTo {
		return nil, corruptf(path, 8, "header range [%d, %d) differs from the file name", h.from, h.upTo)
	}
	l, ok := computeLayout(h, size)
	if !ok || l.fileSize != size {
		return nil, corruptf(path, 24, "file is %d bytes, %d entries in blocks of %d need %d", size, h.count, h.blockEntries, l.fileSize)
	}
	fb := make([]byte, l.fenceLen)
	if err := readFull(f, path, fb, l.fenceOff); err != nil {
		return nil, err
	}
	body := fb[:len(fb)-crcSize]
	if want, got := binary.LittleEndian.Uint32(fb[len(body):]), crc32.Checksum(body, castagnoli); want != got {
		return nil, corruptf(path, l.fenceOff, "fence crc %#08x, computed %#08x", want, got)
	}
	fence := make([]uint64, l.blocks)
	for i := range fence {
		fence[i] = binary.LittleEndian.Uint64(body[i*fenceEntrySize:])
		if i > 0 && fence[i] < fence[i-1] {
			return nil, corruptf(path, l.fenceOff+int64(i*fenceEntrySize), "fence out of order")
		}
	}
	return &run{
		path:         path,
		from:         h.from,
		upTo:         h.upTo,
		count:        h.count,
		blockEntries: h.blockEntries,
		layout:       l,
		fence:        fence,
		f:            f,
	}, nil
}

// readFull reads len(buf) bytes at off; a file that ends early is corrupt.
func readFull(f vfs.File, path string, buf []byte, off int64) error {
	n, err := f.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return corruptf(path, off+int64(n), "file ends %d bytes early", len(buf)-n)
	}
	return fmt.Errorf("read %s at %d: %w", path, off, err)
}

// blockBufSize is the buffer readBlock needs for this run.
func (r *run) blockBufSize() int { return r.blockEntries*entrySize + crcSize }

// blockLen is the number of entries in block b.
func (r *run) blockLen(b int) int {
	n := uint64(r.blockEntries)
	if rem := r.count - uint64(b)*n; rem < n {
		n = rem
	}
	return int(n)
}

// readBlock reads block b into buf (at least blockBufSize bytes) and returns
// its entry bytes once the crc, the fence and the order of its entries agree.
func (r *run) readBlock(b int, buf []byte) ([]byte, error) {
	n := r.blockLen(b)
	off := headerSize + int64(b)*r.layout.blockStride
	blk := buf[:n*entrySize+crcSize]
	if err := readFull(r.f, r.path, blk, off); err != nil {
		return nil, err
	}
	ents := blk[:n*entrySize]
	if want, got := binary.LittleEndian.Uint32(blk[len(ents):]), crc32.Checksum(ents, castagnoli); want != got {
		return nil, corruptf(r.path, off, "block %d crc %#08x, computed %#08x", b, want, got)
	}
	if hashAt(ents, 0) != r.fence[b] {
		return nil, corruptf(r.path, off, "block %d starts at hash %#x, the fence says %#x", b, hashAt(ents, 0), r.fence[b])
	}
	prev := hashAt(ents, 0)
	for i := 1; i < n; i++ {
		h := hashAt(ents, i)
		if h < prev || h == prev && compareEntries(entryAt(ents, i-1), entryAt(ents, i)) > 0 {
			return nil, corruptf(r.path, off+int64(i*entrySize), "block %d out of order", b)
		}
		prev = h
	}
	if b+1 < len(r.fence) && hashAt(ents, n-1) > r.fence[b+1] {
		return nil, corruptf(r.path, off, "block %d ends past the next block's first hash", b)
	}
	return ents, nil
}

// lookup appends the entries with this hash to dst. buf is a scratch buffer
// of at least blockBufSize bytes. A damaged block is skipped: lookup goes on
// with the next ones and returns the first *CorruptError with what the
// others hold. Other read errors end the lookup.
func (r *run) lookup(hash uint64, buf []byte, dst []Entry) ([]Entry, error) {
	fence := r.fence
	if len(fence) == 0 || hash < fence[0] {
		return dst, nil
	}
	// The last block starting below hash may end with it; later blocks
	// starting exactly at hash hold the rest of its entries.
	b := sort.Search(len(fence), func(i int) bool { return fence[i] >= hash }) - 1
	b = max(b, 0)
	var corrupt error
	for ; b < len(fence) && fence[b] <= hash; b++ {
		ents, err := r.readBlock(b, buf)
		if errors.Is(err, ErrCorrupt) {
			corrupt = cmp.Or(corrupt, err)
			continue
		}
		if err != nil {
			return dst, err
		}
		n := len(ents) / entrySize
		i := sort.Search(n, func(i int) bool { return hashAt(ents, i) >= hash })
		for ; i < n && hashAt(ents, i) == hash; i++ {
			dst = append(dst, entryAt(ents, i))
		}
		if i < n {
			break // a larger hash follows: later blocks hold only larger ones
		}
	}
	return dst, corrupt
}

// runIter streams the entries of a run in order, checking every block.
type runIter struct {
	r    *run
	b    int
	buf  []byte
	ents []byte
	i    int
}

func newRunIter(r *run) *runIter {
	return &runIter{r: r, buf: make([]byte, r.blockBufSize())}
}

// next returns the next entry; ok is false at the end of the run.
func (it *runIter) next() (e Entry, ok bool, err error) {
	for it.i*entrySize >= len(it.ents) {
		if it.b >= len(it.r.fence) {
			return Entry{}, false, nil
		}
		it.ents, err = it.r.readBlock(it.b, it.buf)
		if err != nil {
			return Entry{}, false, err
		}
		it.b++
		it.i = 0
	}
	e = entryAt(it.ents, it.i)
	it.i++
	return e, true, nil
}
