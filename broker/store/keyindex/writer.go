package keyindex

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// entrySource yields entries sorted by compareEntries; ok is false at the end.
type entrySource interface {
	next() (e Entry, ok bool, err error)
}

// sliceSource yields the entries of a sorted slice.
type sliceSource struct {
	ents []Entry
}

func (s *sliceSource) next() (Entry, bool, error) {
	if len(s.ents) == 0 {
		return Entry{}, false, nil
	}
	e := s.ents[0]
	s.ents = s.ents[1:]
	return e, true, nil
}

// mergeSource merges sorted runs; with few inputs (at most maxMergeWidth) a
// linear scan for the smallest head is cheaper than a heap.
type mergeSource struct {
	iters []*runIter
	heads []Entry
	live  []bool
}

func newMergeSource(runs []*run) (*mergeSource, error) {
	m := &mergeSource{
		iters: make([]*runIter, len(runs)),
		heads: make([]Entry, len(runs)),
		live:  make([]bool, len(runs)),
	}
	for i, r := range runs {
		m.iters[i] = newRunIter(r)
		if err := m.advance(i); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *mergeSource) advance(i int) error {
	e, ok, err := m.iters[i].next()
	if err != nil {
		return err
	}
	m.heads[i], m.live[i] = e, ok
	return nil
}

func (m *mergeSource) next() (Entry, bool, error) {
	min := -1
	for i, ok := range m.live {
		if ok && (min < 0 || compareEntries(m.heads[i], m.heads[min]) < 0) {
			min = i
		}
	}
	if min < 0 {
		return Entry{}, false, nil
	}
	e := m.heads[min]
	return e, true, m.advance(min)
}

// writeRunFile streams src into f as a run covering [from, upTo). Equal
// entries are written once; entries out of order are an error, so a
// damaged input can never produce a run that lookups would misread. The
// header, which holds the entry count, is written last, at offset 0.
func writeRunFile(f vfs.File, h runHeader, src entrySource) error {
	w := bufio.NewWriterSize(f, 64<<10)
	var placeholder [headerSize]byte
	if _, err := w.Write(placeholder[:]); err != nil {
		return err
	}
	block := make([]byte, 0, h.blockEntries*entrySize+crcSize)
	var fence []byte
	flush := func() error {
		if len(block) == 0 {
			return nil
		}
		fence = binary.LittleEndian.AppendUint64(fence, hashAt(block, 0))
		block = binary.LittleEndian.AppendUint32(block, crc32.Checksum(block, castagnoli))
		_, err := w.Write(block)
		block = block[:0]
		return err
	}
	var last Entry
	h.count = 0
	for {
		e, ok, err := src.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if h.count > 0 {
			switch c := compareEntries(last, e); {
			case c == 0:
				continue
			case c > 0:
				return fmt.Errorf("entry %+v follows %+v: input out of order", e, last)
			}
		}
		last = e
		block = appendEntry(block, e)
		h.count++
		if len(block) == h.blockEntries*entrySize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fence = binary.LittleEndian.AppendUint32(fence, crc32.Checksum(fence, castagnoli))
	if _, err := w.Write(fence); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	hdr := encodeHeader(h)
	_, err := f.WriteAt(hdr[:], 0)
	return err
}

// writeRun writes a run covering [from, upTo) from src in dir so that after a
// crash the run either exists complete or not at all: temp file, fsync,
// rename, directory fsync. It returns the run opened for reading.
func writeRun(fs vfs.FS, dir string, blockEntries int, from, upTo int64, src entrySource) (*run, error) {
	name := runFileName(from, upTo)
	path := filepath.Join(dir, name)
	tmp := path + tmpSuffix
	if err := writeTemp(fs, tmp, runHeader{blockEntries: blockEntries, from: from, upTo: upTo}, src); err != nil {
		return nil, fmt.Errorf("write key index run %s: %w", name, errors.Join(err, removeIfExists(fs, tmp)))
	}
	if err := fs.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("write key index run %s: %w", name, errors.Join(err, removeIfExists(fs, tmp)))
	}
	// From here on, a failure leaves a complete file that the index does not
	// use; remove it so that the directory matches what the index serves.
	if err := fs.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("write key index run %s: sync dir: %w", name, errors.Join(err, removeIfExists(fs, path)))
	}
	r, err := openRun(fs, path, from, upTo)
	if err != nil {
		return nil, fmt.Errorf("reopen key index run %s: %w", name, errors.Join(err, removeIfExists(fs, path)))
	}
	return r, nil
}

func writeTemp(fs vfs.FS, tmp string, h runHeader, src entrySource) error {
	f, err := fs.Create(tmp)
	if err != nil {
		return err
	}
	err = writeRunFile(f, h, src)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// removeIfExists removes name, ignoring that it may never have been created.
func removeIfExists(fs vfs.FS, name string) error {
	if err := fs.Remove(name); err != nil && vfs.Exists(fs, name) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}
