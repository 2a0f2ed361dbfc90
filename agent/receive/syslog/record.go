package syslog

import (
	"bytes"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/agent/source"
)

// Property names of syslog records, besides Fields, source and
// remote_addr; sd.<id>.<param> carry structured data.
const (
	PropFacility   = "facility"
	PropSeverity   = "severity"
	PropHostname   = "hostname"
	PropAppName    = "app_name"
	PropProcID     = "proc_id"
	PropMsgID      = "msg_id"
	PropTimestamp  = "timestamp"
	PropRemoteAddr = "remote_addr"
)

var facilityNames = [...]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

var severityNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// toRecord builds the record of one received message; raw is copied.
func (r *Receiver) toRecord(raw []byte, remote string, now time.Time) source.Record {
	body := bytes.Clone(raw)
	m := Parse(body, now.In(r.cfg.Location))
	props := make(map[string]string, len(r.cfg.Fields)+10+len(m.SD))
	for k, v := range r.cfg.Fields {
		props[k] = v
	}
	props[source.PropSource] = r.cfg.Name
	props[PropRemoteAddr] = remote
	props[PropFacility] = facilityName(m.Facility)
	props[PropSeverity] = severityNames[m.Severity]
	set := func(k, v string) {
		if v != "" {
			props[k] = v
		}
	}
	set(PropHostname, m.Hostname)
	set(PropAppName, m.AppName)
	set(PropProcID, m.ProcID)
	set(PropMsgID, m.MsgID)
	t := now
	if !m.Timestamp.IsZero() {
		t = m.Timestamp
		props[PropTimestamp] = m.Timestamp.Format(time.RFC3339Nano)
	}
	for k, v := range m.SD {
		props["sd."+k] = v
	}
	return source.Record{Topic: r.cfg.Topic, Key: m.Hostname, Body: body, Properties: props, Time: t}
}

func facilityName(f int) string {
	if f < len(facilityNames) {
		return facilityNames[f]
	}
	return strconv.Itoa(f)
}
