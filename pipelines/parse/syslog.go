package parse

import (
	"errors"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// SyslogConfig is parse_syslog: the field holds an RFC 5424 or RFC 3164
// syslog line (the body of what the agent's syslog receiver or a file
// source read).
//
// The fields made are facility and severity (names: "auth", "err"),
// facility_code and severity_code (int64), timestamp (time.Time; the
// event's Time is set to it too), hostname, appname, procid and msgid
// (strings, left out when the line has none), structured_data (RFC 5424
// only: SD-ID -> param -> value) and message, the free-form part ("" if
// none). With Target "", message replaces the event's message field.
// A line with neither a <PRI> nor a timestamp is not syslog: an error.
type SyslogConfig struct {
	Common `yaml:",inline"`
	// Timezone is the IANA zone of RFC 3164 timestamps, which carry
	// none. Default UTC. Their year, which they do not carry either, is
	// the one that puts them closest before the event's time.
	Timezone string `yaml:"timezone"`
}

// Validate checks the keys.
func (c *SyslogConfig) Validate() error {
	errs := c.validate()
	if _, err := loadLocation(c.Timezone); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// loadLocation returns the zone named, UTC for "".
func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, component.Errorf("timezone", "%q is not an IANA time zone like Europe/Paris or UTC", name)
	}
	return loc, nil
}

// Syslog is the parse_syslog processor.
type Syslog struct {
	base
	cfg Common
	loc *time.Location
}

// NewSyslog returns a parse_syslog processor.
func NewSyslog(cfg SyslogConfig, set component.Settings) (*Syslog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	loc, err := loadLocation(cfg.Timezone)
	if err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	return &Syslog{base: newBase(c.OnError, set), cfg: c, loc: loc}, nil
}

// Process parses the field of each log event.
func (p *Syslog) Process(events []*event.Event) []*event.Event { return p.run(events, p) }

func (p *Syslog) parse(e *event.Event) error {
	s, err := source(e, p.cfg.Field)
	if err != nil {
		return err
	}
	now := e.Time
	if now.IsZero() {
		now = time.Now()
	}
	m, err := parseSyslog(s, now, p.loc)
	if err != nil {
		return &syntaxError{field: p.cfg.Field, input: s, err: err}
	}
	p.cfg.store(e, m.fields(p.cfg.room(e, 0)))
	if !m.timestamp.IsZero() {
		e.Time = m.timestamp
	}
	return nil
}

// Field names parse_syslog sets.
const (
	SyslogFacility       = "facility"
	SyslogSeverity       = "severity"
	SyslogFacilityCode   = "facility_code"
	SyslogSeverityCode   = "severity_code"
	SyslogTimestamp      = "timestamp"
	SyslogHostname       = "hostname"
	SyslogAppname        = "appname"
	SyslogProcID         = "procid"
	SyslogMsgID          = "msgid"
	SyslogStructuredData = "structured_data"
)

var facilityNames = [...]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

var severityNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// fields returns the message as event fields, in a map with room for
// extra more.
func (m *syslogMessage) fields(extra int) map[string]any {
	f := make(map[string]any, 10+extra)
	f[SyslogFacility] = facilityName(m.facility)
	f[SyslogSeverity] = severityNames[m.severity]
	f[SyslogFacilityCode] = int64(m.facility)
	f[SyslogSeverityCode] = int64(m.severity)
	if !m.timestamp.IsZero() {
		f[SyslogTimestamp] = m.timestamp
	}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set(SyslogHostname, m.hostname)
	set(SyslogAppname, m.appname)
	set(SyslogProcID, m.procid)
	set(SyslogMsgID, m.msgid)
	if m.sd != nil {
		f[SyslogStructuredData] = m.sd
	}
	f[event.FieldMessage] = m.msg
	return f
}

func facilityName(f int) string {
	if f < len(facilityNames) {
		return facilityNames[f]
	}
	return strconv.Itoa(f)
}
