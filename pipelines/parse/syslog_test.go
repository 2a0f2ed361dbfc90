package parse

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/pipelines/component"
)

// syslogFields is the fields parse_syslog makes, for the tests' wants.
type syslogFields struct {
	fac, sev                      int
	ts                            string // RFC 3339, "" for none
	host, app, procid, msgid, msg string
	sd                            map[string]any
}

func (f syslogFields) fields(t *testing.T) map[string]any {
	m := map[string]any{
		"facility": facilityNames[f.fac], "severity": severityNames[f.sev],
		"facility_code": int64(f.fac), "severity_code": int64(f.sev), "message": f.msg,
	}
	if f.ts != "" {
		m["timestamp"] = mustTime(t, f.ts)
	}
	for k, v := range map[string]string{"hostname": f.host, "appname": f.app, "procid": f.procid, "msgid": f.msgid} {
		if v != "" {
			m[k] = v
		}
	}
	if f.sd != nil {
		m["structured_data"] = f.sd
	}
	return m
}

// The examples of RFC 5424 section 6.5 and RFC 3164, what daemons,
// network gear and logger(1) send, and what is not syslog. readTime is
// 2026-01-02T10:00:00Z, which decides RFC 3164 years.
func TestParseSyslogLines(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     syslogFields
		err      string
	}{
		{name: "5424 example 1", in: "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8",
			want: syslogFields{fac: 4, sev: 2, ts: "2003-10-11T22:14:15.003Z", host: "mymachine.example.com", app: "su", msgid: "ID47",
				msg: "'su root' failed for lonvick on /dev/pts/8"}},
		{name: "5424 example 2", in: "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
			want: syslogFields{fac: 20, sev: 5, ts: "2003-08-24T05:14:15.000003-07:00", host: "192.0.2.1", app: "myproc", procid: "8710",
				msg: "%% It's time to make the do-nuts."}},
		{name: "5424 example 3", in: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...`,
			want: syslogFields{fac: 20, sev: 5, ts: "2003-10-11T22:14:15.003Z", host: "mymachine.example.com", app: "evntslog", msgid: "ID47",
				sd:  map[string]any{"exampleSDID@32473": map[string]any{"iut": "3", "eventSource": "Application", "eventID": "1011"}},
				msg: "An application event log entry..."}},
		{name: "5424 example 4, no msg", in: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
			want: syslogFields{fac: 20, sev: 5, ts: "2003-10-11T22:14:15.003Z", host: "mymachine.example.com", app: "evntslog", msgid: "ID47",
				sd: map[string]any{"exampleSDID@32473": map[string]any{"iut": "3", "eventSource": "Application", "eventID": "1011"},
					"examplePriority@32473": map[string]any{"class": "high"}}}},
		{name: "5424 all nil", in: "<0>1 - - - - - -", want: syslogFields{}},
		{name: "5424 escapes and an element without params", in: `<14>1 2024-01-02T03:04:05Z h a 1 m [x@1 q="a \"b\" \] c\\d \e"][origin] msg`,
			want: syslogFields{fac: 1, sev: 6, ts: "2024-01-02T03:04:05Z", host: "h", app: "a", procid: "1", msgid: "m",
				sd: map[string]any{"x@1": map[string]any{"q": `a "b" ] c\d \e`}, "origin": map[string]any{}}, msg: "msg"}},
		{name: "3164 rfc example", in: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			want: syslogFields{fac: 4, sev: 2, ts: "2025-10-11T22:14:15Z", host: "mymachine", app: "su", msg: "'su root' failed for lonvick on /dev/pts/8"}},
		{name: "3164 no tag", in: "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
			want: syslogFields{fac: 1, sev: 5, ts: "2025-02-05T17:32:18Z", host: "10.0.0.99", msg: "Use the BFG!"}},
		{name: "3164 pid", in: "<86>Jan  2 09:58:01 web1 sshd[4123]: Accepted publickey for deploy",
			want: syslogFields{fac: 10, sev: 6, ts: "2026-01-02T09:58:01Z", host: "web1", app: "sshd", procid: "4123", msg: "Accepted publickey for deploy"}},
		{name: "3164 no hostname", in: "<30>Jan  2 09:00:00 systemd[1]: Started Session 3.",
			want: syslogFields{fac: 3, sev: 6, ts: "2026-01-02T09:00:00Z", app: "systemd", procid: "1", msg: "Started Session 3."}},
		{name: "3164 file line without PRI", in: "Jan  1 23:59:59 fw kernel: DROP IN=eth0",
			want: syslogFields{fac: 1, sev: 5, ts: "2026-01-01T23:59:59Z", host: "fw", app: "kernel", msg: "DROP IN=eth0"}},
		{name: "3164 last year's december", in: "<14>Dec 31 23:59:59 h app: bye",
			want: syslogFields{fac: 1, sev: 6, ts: "2025-12-31T23:59:59Z", host: "h", app: "app", msg: "bye"}},
		{name: "3164 tomorrow is this year (clock skew)", in: "<14>Jan  3 09:00:00 h app: early",
			want: syslogFields{fac: 1, sev: 6, ts: "2026-01-03T09:00:00Z", host: "h", app: "app", msg: "early"}},
		{name: "3164 year and millis (cisco)", in: "<189>Mar 14 2024 08:15:00.123 core-sw1 %LINK-3-UPDOWN: Interface Gi1/0/1, changed state to down",
			want: syslogFields{fac: 23, sev: 5, ts: "2024-03-14T08:15:00.123Z", host: "core-sw1", app: "%LINK-3-UPDOWN", msg: "Interface Gi1/0/1, changed state to down"}},
		{name: "3164 rfc3339 (rsyslog)", in: "<163>2025-06-01T12:00:00.123456+02:00 db2 postgres[77]: FATAL: too many connections",
			want: syslogFields{fac: 20, sev: 3, ts: "2025-06-01T12:00:00.123456+02:00", host: "db2", app: "postgres", procid: "77", msg: "FATAL: too many connections"}},
		{name: "bad 5424 read as 3164", in: "<34>1 not really 5424", want: syslogFields{fac: 4, sev: 2, msg: "1 not really 5424"}},
		{name: "PRI and text", in: "<11>something broke", want: syslogFields{fac: 1, sev: 3, msg: "something broke"}},
		{name: "PRI and tag only", in: "<11>cron:", want: syslogFields{fac: 1, sev: 3, app: "cron"}},
		{name: "plain text", in: "hello world", err: "not a syslog line: no <PRI>, no timestamp"},
		{name: "PRI out of range", in: "<192>Jan  2 09:00:00 h a: m", err: "not a syslog line: no <PRI>, no timestamp"},
		{name: "no such day", in: "Feb 30 09:00:00 h a: m", err: "not a syslog line: no <PRI>, no timestamp"},
		{name: "empty", in: "", err: "not a syslog line: no <PRI>, no timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseSyslog(tc.in, readTime, time.UTC)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got error %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := m.fields(0), tc.want.fields(t); !equalValues(got, want) {
				t.Errorf("\n got %s\nwant %s", show(got), show(want))
			}
		})
	}
}

func TestParseSyslog(t *testing.T) {
	line := `<165>1 2003-10-11T22:14:15.003Z host1 app - ID47 [a@1 k="v"] the message`
	ts := mustTime(t, "2003-10-11T22:14:15.003Z")
	parsed := func(extra map[string]any) map[string]any {
		m := map[string]any{"facility": "local4", "severity": "notice", "facility_code": int64(20), "severity_code": int64(5),
			"timestamp": ts, "hostname": "host1", "appname": "app", "msgid": "ID47",
			"structured_data": map[string]any{"a@1": map[string]any{"k": "v"}}, "message": "the message"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg   SyslogConfig
		cases []procCase
	}{
		{SyslogConfig{}, []procCase{
			{name: "message replaced, time set", in: map[string]any{"message": line, "source": "s"}, want: parsed(map[string]any{"source": "s"}), time: ts},
			{name: "not syslog", in: msg("hello"), want: msg("hello"), failed: true},
			{name: "no timestamp keeps the time", in: msg("<11>x"), want: map[string]any{"facility": "user", "severity": "err",
				"facility_code": int64(1), "severity_code": int64(3), "message": "x"}},
		}},
		{SyslogConfig{Common: Common{Field: "raw", Target: "syslog", RemoveSource: true, OnError: "drop"}}, []procCase{
			{name: "under target", in: map[string]any{"raw": line, "message": "m"},
				want: map[string]any{"message": "m", "syslog": parsed(nil)}, time: ts},
			{name: "dropped", in: map[string]any{"raw": "nope"}, want: nil, failed: true},
		}},
		{SyslogConfig{Timezone: "Europe/Paris"}, []procCase{
			{name: "3164 in the zone configured", in: msg("<14>Jan  2 09:30:00 h a: m"),
				want: map[string]any{"facility": "user", "severity": "info", "facility_code": int64(1), "severity_code": int64(6),
					"timestamp": time.Date(2026, 1, 2, 9, 30, 0, 0, paris), "hostname": "h", "appname": "a", "message": "m"},
				time: time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC)},
		}},
	} {
		runCases(t, tc.cases, func(set component.Settings) (component.Processor, error) { return NewSyslog(tc.cfg, set) })
	}
}
