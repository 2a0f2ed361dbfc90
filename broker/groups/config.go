package groups

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// Queues is what the coordinator needs to know about topics; the server
// implements it over the store. It is called with the coordinator's lock
// held, so it must not call back into the coordinator.
type Queues interface {
	// NumQueues returns the number of queues of topic, or an error wrapping ErrUnknownTopic.
	NumQueues(topic string) (int, error)
	// QueueRange returns [min, next) offsets held by the queue (0,0 if the queue holds nothing yet).
	QueueRange(topic string, queue uint32) (min, next int64, err error)
	// OffsetForTime returns the first offset stored at or after ms (Unix ms), or next if none.
	OffsetForTime(topic string, queue uint32, ms int64) (int64, error)
	// StoredAtMs returns the store time of the message at offset (for lag age); an error if gone or not yet written.
	StoredAtMs(topic string, queue uint32, offset int64) (int64, error)
}

// ErrUnknownTopic is wrapped by Queues implementations for a topic that does
// not exist; the coordinator turns it into protocol.CodeUnknownTopic.
var ErrUnknownTopic = errors.New("unknown topic")

// Session timeouts a member may ask for, and the default.
const (
	MinSessionTimeout     = time.Second
	MaxSessionTimeout     = 5 * time.Minute
	defaultSessionTimeout = 10 * time.Second
)

// Config configures a Coordinator. Dir and Queues are required; every other
// zero value takes the default documented on the field.
type Config struct {
	// Dir is where group state is persisted (DIR/groups.json). Required; it
	// is created if missing.
	Dir string
	// Queues answers questions about topics. Required.
	Queues Queues
	// SessionTimeout applies when a member does not ask for one. Default
	// 10s; it and what members ask for must lie in 1s..5m.
	SessionTimeout time.Duration
	// Now is the clock for sessions and lag ages; nil means time.Now.
	Now func() time.Time
	// Logger receives membership changes and state write failures; nil
	// uses slog.Default.
	Logger *slog.Logger
	// Metrics receives the coordinator's metrics; nil makes a new set,
	// available from Coordinator.Metrics. It must not hold another open
	// coordinator's metrics; Close removes them from it.
	Metrics *metrics.Set
	// FS is the file system for the state file; nil means the operating
	// system's (vfs.Default). Tests inject faults through it.
	FS vfs.FS
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("groups: dir is required"))
	}
	if c.Queues == nil {
		errs = append(errs, errors.New("groups: queues is required"))
	}
	if c.SessionTimeout != 0 && (c.SessionTimeout < MinSessionTimeout || c.SessionTimeout > MaxSessionTimeout) {
		errs = append(errs, fmt.Errorf("groups: session timeout %v is not between %v and %v",
			c.SessionTimeout, MinSessionTimeout, MaxSessionTimeout))
	}
	return errors.Join(errs...)
}

// withDefaults returns a copy with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = defaultSessionTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	return c
}

// nameRe is the store's rule for topic names, applied to groups too: group
// and topic names become metric label values and must need no escaping.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

func validName(kind, name string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("invalid %s name %q: use 1 to 200 letters, digits, '.', '_' or '-'", kind, name)
	}
	return nil
}

// maxMemberID bounds member IDs chosen by clients.
const maxMemberID = 255

func validMemberID(id string) error {
	if len(id) > maxMemberID {
		return fmt.Errorf("member id is %d bytes, at most %d", len(id), maxMemberID)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("member id %q holds a control character", id)
		}
	}
	return nil
}
