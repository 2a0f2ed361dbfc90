package tail

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Defaults of Config.
const (
	DefaultMaxLineBytes = 1 << 20
	DefaultScanInterval = 500 * time.Millisecond
	DefaultBatchLines   = 1000
	DefaultBatchBytes   = 1 << 20
	DefaultLinger       = 200 * time.Millisecond
	DefaultIdleTimeout  = 5 * time.Minute
	DefaultForgetAfter  = 24 * time.Hour
	DefaultKey          = "{host}/{file}"
	readChunk           = 256 << 10
)

// Config configures a Tailer.
type Config struct {
	// Name is the source's name, the property "source". Default "file".
	Name string
	// Include and Exclude are path globs (filepath.Match syntax per
	// segment, and "**" for any number of directories). An exclude glob
	// without a directory ("*.gz") is matched against the base name too.
	Include, Exclude []string
	// Topic receives the lines. Required.
	Topic string
	// Key orders lines: {host}, {file} and {source} are replaced. Default
	// "{host}/{file}", so one file's lines stay in order in one queue.
	Key string
	// Fields are extra properties of every line.
	Fields map[string]string
	// StartAt is "end" (default) or "beginning", for files found at the
	// first scan without a checkpoint.
	StartAt string
	// StateDir holds the checkpoints. Required.
	StateDir string
	// MaxLineBytes splits longer lines into pieces of at most this many
	// bytes (or truncates them, with TruncateLongLines). It also bounds a
	// multiline event. Default 1 MiB.
	MaxLineBytes int
	// TruncateLongLines keeps only the first MaxLineBytes of a longer
	// line and drops the rest, instead of splitting it.
	TruncateLongLines bool
	// Multiline, if set, groups lines into events.
	Multiline *Multiline
	// IdleTimeout closes a file (releasing its descriptor) that did not
	// grow for this long; it is reopened when it grows. Default 5m.
	IdleTimeout time.Duration
	// ScanInterval is how often globs are matched again and files polled
	// for growth. Default 500ms.
	ScanInterval time.Duration
	// ForgetAfter drops the checkpoint of a file not found for this long
	// (counted from when it was last followed). A file that is deleted or
	// rotated away is let go, with its checkpoint, as soon as it has been
	// read to its end and delivered. Default 24h.
	ForgetAfter time.Duration
	// BatchLines and BatchBytes bound a batch: defaults 1,000 lines and
	// 1 MiB. A batch is also sent whenever the files have no more to read
	// for now, so lines wait for a batch only while more are coming, and
	// at the latest Linger (default 200ms) after its first line.
	BatchLines, BatchBytes int
	Linger                 time.Duration
	// Host is the property "host". Default the host name.
	Host    string
	Logger  *slog.Logger
	Metrics *metrics.Set
}

// Validate reports a field that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Include) == 0 {
		errs = append(errs, errors.New("file source: include globs are required"))
	}
	for _, g := range append(append([]string{}, c.Include...), c.Exclude...) {
		if _, err := filepath.Match(g, ""); err != nil {
			errs = append(errs, fmt.Errorf("file source: glob %q: %w", g, err))
		}
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("file source: topic is required"))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("file source: state dir is required"))
	}
	if c.StartAt != "" && c.StartAt != "end" && c.StartAt != "beginning" {
		errs = append(errs, fmt.Errorf("file source: start_at %q is not beginning or end", c.StartAt))
	}
	if c.MaxLineBytes < 0 || c.BatchLines < 0 || c.BatchBytes < 0 || c.ScanInterval < 0 || c.Linger < 0 || c.IdleTimeout < 0 ||
		c.ForgetAfter < 0 {
		errs = append(errs, errors.New("file source: sizes and intervals must not be negative"))
	}
	if c.Multiline != nil {
		errs = append(errs, c.Multiline.validate())
	}
	return errors.Join(errs...)
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.Name == "" {
		d.Name = "file"
	}
	if d.Key == "" {
		d.Key = DefaultKey
	}
	if d.StartAt == "" {
		d.StartAt = "end"
	}
	if d.MaxLineBytes == 0 {
		d.MaxLineBytes = DefaultMaxLineBytes
	}
	if d.ScanInterval == 0 {
		d.ScanInterval = DefaultScanInterval
	}
	if d.BatchLines == 0 {
		d.BatchLines = DefaultBatchLines
	}
	if d.BatchBytes == 0 {
		d.BatchBytes = DefaultBatchBytes
	}
	if d.Linger == 0 {
		d.Linger = DefaultLinger
	}
	if d.ForgetAfter == 0 {
		d.ForgetAfter = DefaultForgetAfter
	}
	if d.IdleTimeout == 0 {
		d.IdleTimeout = DefaultIdleTimeout
	}
	if d.Host == "" {
		d.Host, _ = os.Hostname()
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.NewSet()
	}
	return d
}
