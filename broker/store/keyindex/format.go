package keyindex

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

const (
	// runMagic starts every run file: "SKX1" little-endian.
	runMagic uint32 = 0x31584b53
	// runVersion is the only run format version this package writes and reads.
	runVersion = 1
	// headerSize is the fixed header at the start of a run file.
	headerSize = 36
	// entrySize is one encoded Entry: hash u64, pos i64, index u32.
	entrySize = 20
	// crcSize is one CRC32C trailer (after each block and after the fence).
	crcSize = 4
	// fenceEntrySize is one fence entry: the first hash of a block.
	fenceEntrySize = 8
	// defaultBlockEntries is how many entries a full block holds: 10,240 bytes
	// of entries, a fence entry per 10 KiB of run (0.08% of the run in memory).
	defaultBlockEntries = 512
	// maxBlockEntries bounds the block size a reader accepts (the field is u16).
	maxBlockEntries = 1<<16 - 1

	runPrefix = "run-"
	runSuffix = ".kx"
	tmpSuffix = ".tmp"
	posDigits = 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is matched (errors.Is) by every *CorruptError.
var ErrCorrupt = errors.New("corrupt key index run")

// CorruptError says that a run file does not hold what its checksums and
// sizes promise: a torn write, a bit flip or a file that is not a run at all.
type CorruptError struct {
	File   string // path of the run file
	Offset int64  // byte offset of the damaged part
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt key index run %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corruptf(file string, off int64, format string, args ...any) error {
	return &CorruptError{File: file, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// runHeader is the decoded header of a run file.
type runHeader struct {
	blockEntries int
	from, upTo   int64
	count        uint64
}

func encodeHeader(h runHeader) [headerSize]byte {
	var b [headerSize]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], runMagic)
	le.PutUint16(b[4:], runVersion)
	le.PutUint16(b[6:], uint16(h.blockEntries))
	le.PutUint64(b[8:], uint64(h.from))
	le.PutUint64(b[16:], uint64(h.upTo))
	le.PutUint64(b[24:], h.count)
	le.PutUint32(b[32:], crc32.Checksum(b[:32], castagnoli))
	return b
}

func decodeHeader(file string, b []byte) (runHeader, error) {
	le := binary.LittleEndian
	if m := le.Uint32(b); m != runMagic {
		return runHeader{}, corruptf(file, 0, "bad magic %#08x", m)
	}
	if want, got := le.Uint32(b[32:]), crc32.Checksum(b[:32], castagnoli); want != got {
		return runHeader{}, corruptf(file, 32, "header crc %#08x, computed %#08x", want, got)
	}
	if v := le.Uint16(b[4:]); v != runVersion {
		return runHeader{}, corruptf(file, 4, "unknown version %d", v)
	}
	h := runHeader{
		blockEntries: int(le.Uint16(b[6:])),
		from:         int64(le.Uint64(b[8:])),
		upTo:         int64(le.Uint64(b[16:])),
		count:        le.Uint64(b[24:]),
	}
	if h.blockEntries == 0 {
		return runHeader{}, corruptf(file, 6, "zero entries per block")
	}
	if h.from < 0 || h.from >= h.upTo {
		return runHeader{}, corruptf(file, 8, "empty or negative range [%d, %d)", h.from, h.upTo)
	}
	return h, nil
}

// layout gives the size of each part of a run file with count entries in
// blocks of blockEntries. ok is false when the sizes overflow, which a
// decoder treats as corruption.
type layout struct {
	blocks      uint64
	blockStride int64 // bytes from one full block to the next
	fenceOff    int64
	fenceLen    int64 // fence entries and the fence crc
	fileSize    int64
}

func computeLayout(h runHeader, fileSize int64) (layout, bool) {
	// Bound count by the file before multiplying anything by it.
	if fileSize < headerSize+crcSize || h.count > uint64(fileSize)/entrySize {
		return layout{}, false
	}
	be := uint64(h.blockEntries)
	blocks := (h.count + be - 1) / be
	l := layout{
		blocks:      blocks,
		blockStride: int64(be*entrySize + crcSize),
		fenceOff:    headerSize + int64(h.count*entrySize+blocks*crcSize),
		fenceLen:    int64(blocks*fenceEntrySize + crcSize),
	}
	l.fileSize = l.fenceOff + l.fenceLen
	return l, true
}

func appendEntry(dst []byte, e Entry) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, e.Hash)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Pos))
	return binary.LittleEndian.AppendUint32(dst, e.Index)
}

// entryAt decodes entry i of a block's entry bytes.
func entryAt(b []byte, i int) Entry {
	p := b[i*entrySize : i*entrySize+entrySize]
	return Entry{
		Hash:  binary.LittleEndian.Uint64(p),
		Pos:   int64(binary.LittleEndian.Uint64(p[8:])),
		Index: binary.LittleEndian.Uint32(p[16:]),
	}
}

func hashAt(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i*entrySize:]) }

// compareEntries orders entries as runs store them: by hash, then position,
// then index.
func compareEntries(a, b Entry) int {
	if c := cmp.Compare(a.Hash, b.Hash); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Pos, b.Pos); c != 0 {
		return c
	}
	return cmp.Compare(a.Index, b.Index)
}

// compareByPos orders entries as Lookup returns them.
func compareByPos(a, b Entry) int {
	if c := cmp.Compare(a.Pos, b.Pos); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Index, b.Index); c != 0 {
		return c
	}
	return cmp.Compare(a.Hash, b.Hash)
}

// runFileName names the run covering [from, upTo).
func runFileName(from, upTo int64) string {
	return fmt.Sprintf("%s%0*d-%0*d%s", runPrefix, posDigits, from, posDigits, upTo, runSuffix)
}

// parseRunFileName is the inverse of runFileName.
func parseRunFileName(name string) (from, upTo int64, ok bool) {
	rest, ok := strings.CutPrefix(name, runPrefix)
	if !ok {
		return 0, 0, false
	}
	rest, ok = strings.CutSuffix(rest, runSuffix)
	if !ok || len(rest) != 2*posDigits+1 || rest[posDigits] != '-' {
		return 0, 0, false
	}
	from, ok = parsePos(rest[:posDigits])
	if !ok {
		return 0, 0, false
	}
	upTo, ok = parsePos(rest[posDigits+1:])
	if !ok || from >= upTo {
		return 0, 0, false
	}
	return from, upTo, true
}

func parsePos(s string) (int64, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}
