package file

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/config"
)

// Defaults of the Config fields left at zero.
const (
	DefaultMaxOpenFiles = 256
	DefaultIdleClose    = time.Minute
	DefaultMode         = Mode(0o644)
)

// The encodings and compressions the sink knows.
const (
	EncodingJSON = "json"
	EncodingText = "text"

	CompressNone = "none"
	CompressGzip = "gzip"
	CompressZstd = "zstd"
)

// Config is the file sink's configuration. The zero value of every field
// but Path means its documented default.
type Config struct {
	// Path is the file to append to, a template expanded for every event:
	// %Y %m %d %H %M %S %j (and %% for a literal %) from the event's time
	// in Timezone, and {{ field.path }} / {{ meta.key }} from the event,
	// e.g. "./out/{{ meta.host }}/app-%Y-%m-%d.log". A value taken from an
	// event cannot leave the directory the template names: "/" and "\"
	// become "_", and a value of only dots has them replaced too. Required.
	Path string `yaml:"path"`
	// Timezone is the zone the strftime conversions of Path are taken in:
	// UTC (default), Local, or an IANA name such as Europe/Paris.
	Timezone string `yaml:"timezone"`
	// Encoding is json (default: event.AppendJSON, one event per line) or
	// text (a log event's message field; a metric event as one line per
	// sample, `name{label="value",...} value timestamp_ms`).
	Encoding string `yaml:"encoding"`
	// Rotate says when the open file is renamed away and a new one
	// started. Default: never.
	Rotate Rotate `yaml:"rotate"`
	// Keep is how many rotated files of one path are kept; older ones are
	// removed after each rotation. Default 0: all.
	Keep int `yaml:"keep"`
	// Compress is none (default), gzip or zstd: rotated files are
	// compressed in the background to <rotated name>.gz or .zst.
	Compress string `yaml:"compress"`
	// MaxOpenFiles bounds the files held open at once; opening one more
	// closes the least recently written. Default 256.
	MaxOpenFiles int `yaml:"max_open_files"`
	// IdleClose closes a file nothing was written to for this long.
	// Default 1m.
	IdleClose config.Duration `yaml:"idle_close"`
	// Mode is the permission of the files the sink creates, in octal
	// (0644 or "0o640"). Directories get the same bits plus search (x)
	// where read is given, and always rwx for the owner. Default 0644.
	Mode Mode `yaml:"mode"`
	// Fsync makes Write fsync every file (and new directory entry) it
	// wrote before returning, so what the collector commits is on disk.
	// Default true; false leaves flushing to the kernel: a machine crash
	// can then lose the last seconds of committed events.
	Fsync *bool `yaml:"fsync"`
	// Retry is the back-off for failures that can pass (a full disk, a
	// quota, too many open files, EIO); other errors fail the Write at
	// once.
	Retry config.Retry `yaml:"retry"`
}

// Rotate is when the open file of a path is rotated.
type Rotate struct {
	// MaxSize rotates the file before a write would take it past this
	// size (a single event bigger than it still gets a file of its own).
	// Default 0: no size limit.
	MaxSize config.Size `yaml:"max_size"`
	// MaxAge rotates a file this long after the sink opened it (a file
	// reopened after a restart or an idle close starts a new period).
	// Default 0: no age limit.
	MaxAge config.Duration `yaml:"max_age"`
}

// Mode is a file permission written in octal: 0644, "0640", 0o600.
type Mode uint32

// UnmarshalYAML parses an octal permission.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseMode(n.Value)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseMode parses octal permission bits, with or without a 0 or 0o prefix.
func ParseMode(s string) (Mode, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	v, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || v > 0o777 || digits == "" {
		return 0, fmt.Errorf("invalid file mode %q (want octal permission bits such as 0644 or 0600)", s)
	}
	return Mode(v), nil
}

// Validate reports every key that is wrong.
func (c *Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, component.Errorf("path", "is required: the file to write, e.g. ./out/app-%%Y-%%m-%%d.log"))
	} else if _, err := parseTemplate(c.Path); err != nil {
		errs = append(errs, component.Errorf("path", "%v", err))
	}
	if _, err := loadLocation(c.Timezone); err != nil {
		errs = append(errs, component.Errorf("timezone", "%q is not a known time zone (want UTC, Local or an IANA name such as Europe/Paris)", c.Timezone))
	}
	switch c.Encoding {
	case "", EncodingJSON, EncodingText:
	default:
		errs = append(errs, component.Errorf("encoding", "%q is not an encoding (want json or text)", c.Encoding))
	}
	switch c.Compress {
	case "", CompressNone, CompressGzip, CompressZstd:
	default:
		errs = append(errs, component.Errorf("compress", "%q is not a compression (want none, gzip or zstd)", c.Compress))
	}
	if c.Rotate.MaxSize < 0 {
		errs = append(errs, component.Errorf("rotate.max_size", "%d is negative (want a size such as 64MiB, or 0 for no limit)", c.Rotate.MaxSize))
	}
	if c.Rotate.MaxAge < 0 {
		errs = append(errs, component.Errorf("rotate.max_age", "%s is negative (want a duration such as 1h, or 0 for no limit)", c.Rotate.MaxAge.D()))
	}
	if c.Keep < 0 {
		errs = append(errs, component.Errorf("keep", "%d is negative (want how many rotated files to keep, or 0 for all)", c.Keep))
	}
	if c.MaxOpenFiles < 0 {
		errs = append(errs, component.Errorf("max_open_files", "%d is negative (want at least 1, or 0 for %d)", c.MaxOpenFiles, DefaultMaxOpenFiles))
	}
	if c.IdleClose < 0 {
		errs = append(errs, component.Errorf("idle_close", "%s is negative (want a duration such as 1m)", c.IdleClose.D()))
	}
	if c.Mode > 0o777 {
		errs = append(errs, component.Errorf("mode", "%#o is not a file permission (want octal bits such as 0644)", uint32(c.Mode)))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field at its default.
func (c Config) withDefaults() Config {
	if c.Encoding == "" {
		c.Encoding = EncodingJSON
	}
	if c.Compress == "" {
		c.Compress = CompressNone
	}
	if c.MaxOpenFiles == 0 {
		c.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if c.IdleClose == 0 {
		c.IdleClose = config.Duration(DefaultIdleClose)
	}
	if c.Mode == 0 {
		c.Mode = DefaultMode
	}
	if c.Fsync == nil {
		on := true
		c.Fsync = &on
	}
	c.Retry = c.Retry.WithDefaults()
	return c
}

// dirMode is the permission of the directories the sink creates: the
// file's bits, search where read is given, and rwx for the owner.
func (m Mode) dirMode() os.FileMode {
	return os.FileMode(m|(m&0o444)>>2|0o700) & os.ModePerm
}

func loadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return time.Local, nil
	}
	return time.LoadLocation(name)
}
