package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/sluicehq/sluice/pipelines/component"
)

// compressor is the goroutine that compresses rotated files and then
// removes rotated files beyond keep. It works on paths, not on files:
// for a path it compresses every uncompressed rotated file it finds, so
// one left by a crash or a Close that could not wait is done next time.
type compressor struct {
	ext   string
	enc   encoder
	mode  os.FileMode
	keep  int
	fsync bool
	name  string
	lg    *slog.Logger

	mu     sync.Mutex
	queue  []string        // guarded by mu
	queued map[string]bool // guarded by mu
	wake   chan struct{}   // a path was queued

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	stop   chan struct{} // closed by close: finish the queue and return
	done   chan struct{}

	compressed, failed, removed *metrics.Counter
}

// encoder is a gzip or zstd stream writer, reused from file to file.
type encoder interface {
	io.WriteCloser
	Reset(w io.Writer)
}

type zstdEncoder struct{ *zstd.Encoder }

func (z zstdEncoder) Reset(w io.Writer) { z.Encoder.Reset(w) }

func newCompressor(kind string, s *Sink, set component.Settings) *compressor {
	c := &compressor{
		mode: s.mode, keep: s.keep, fsync: s.fsync, name: s.name, lg: s.lg,
		queued: map[string]bool{},
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	switch kind {
	case CompressGzip:
		c.ext, c.enc = ".gz", gzip.NewWriter(nil)
	default:
		// One encoder goroutine-free stream: compression runs on the
		// compressor's goroutine alone.
		z, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(fmt.Sprintf("zstd encoder with constant options: %v", err))
		}
		c.ext, c.enc = ".zst", zstdEncoder{z}
	}
	name := component.Label(set.Name)
	c.compressed = set.Metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_collector_sink_file_compressed_total{sink="%s"}`, name))
	c.failed = set.Metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_collector_sink_file_compress_errors_total{sink="%s"}`, name))
	c.removed = s.m.removed
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	return c
}

// enqueue asks for path's rotated files to be compressed.
func (c *compressor) enqueue(path string) {
	c.mu.Lock()
	if !c.queued[path] {
		c.queued[path] = true
		c.queue = append(c.queue, path)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *compressor) next() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return "", false
	}
	path := c.queue[0]
	c.queue = c.queue[1:]
	delete(c.queued, path)
	return path, true
}

func (c *compressor) run() {
	defer close(c.done)
	for {
		if c.ctx.Err() != nil {
			return
		}
		if path, ok := c.next(); ok {
			c.process(path)
			continue
		}
		select {
		case <-c.wake:
		case <-c.stop:
			if _, more := c.peek(); !more {
				return
			}
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *compressor) peek() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return "", false
	}
	return c.queue[0], true
}

// close lets the compressor finish its queue, or stops it when ctx ends.
func (c *compressor) close(ctx context.Context) error {
	close(c.stop)
	select {
	case <-c.done:
		c.cancel()
		return nil
	case <-ctx.Done():
		c.cancel()
		<-c.done
		return fmt.Errorf("compressing rotated files: %w", ctx.Err())
	}
}

// process compresses path's uncompressed rotated files, then removes the
// oldest beyond keep.
func (c *compressor) process(path string) {
	files, err := listRotated(path)
	if err != nil {
		c.failed.Inc()
		c.lg.Warn("file sink: compressing rotated files", "sink", c.name, "error", err)
		return
	}
	dir := filepath.Dir(path)
	for _, r := range files {
		if r.compressed {
			continue
		}
		if err := c.compressFile(filepath.Join(dir, r.name)); err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.failed.Inc()
			c.lg.Warn("file sink: compressing a rotated file", "sink", c.name, "error", err)
			continue
		}
		c.compressed.Inc()
	}
	if c.keep > 0 {
		n, err := pruneRotated(path, c.keep)
		c.removed.Add(n)
		if err != nil {
			c.lg.Warn("file sink: removing old rotated files", "sink", c.name, "error", err)
		}
	}
}

// compressFile writes src+ext through a temporary file, renames it into
// place and then removes src: a crash leaves src (compressed again next
// time) and never a truncated src+ext.
func (c *compressor) compressFile(src string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed meanwhile (keep)
	}
	if err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	defer in.Close()
	dst := src + c.ext
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, c.mode)
	if err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	err = c.encode(out, in)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err == nil && c.fsync {
		err = syncDir(filepath.Dir(dst))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compress %s to %s: %w", src, dst, err)
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("remove %s after compressing it: %w", src, err)
	}
	return nil
}

func (c *compressor) encode(out *os.File, in io.Reader) error {
	if err := out.Chmod(c.mode); err != nil {
		return err
	}
	c.enc.Reset(out)
	if _, err := io.Copy(c.enc, ctxReader{c.ctx, in}); err != nil {
		c.enc.Close()
		return err
	}
	if err := c.enc.Close(); err != nil {
		return err
	}
	if c.fsync {
		return out.Sync()
	}
	return nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
