package syslog

import (
	"maps"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func checkMessage(t *testing.T, got, want Message) {
	t.Helper()
	if got.Facility != want.Facility || got.Severity != want.Severity {
		t.Errorf("pri: got %d.%d, want %d.%d", got.Facility, got.Severity, want.Facility, want.Severity)
	}
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("timestamp: got %v, want %v", got.Timestamp, want.Timestamp)
	}
	if got.Hostname != want.Hostname || got.AppName != want.AppName || got.ProcID != want.ProcID || got.MsgID != want.MsgID {
		t.Errorf("header: got host=%q app=%q pid=%q msgid=%q, want host=%q app=%q pid=%q msgid=%q",
			got.Hostname, got.AppName, got.ProcID, got.MsgID, want.Hostname, want.AppName, want.ProcID, want.MsgID)
	}
	if !maps.Equal(got.SD, want.SD) {
		t.Errorf("sd: got %v, want %v", got.SD, want.SD)
	}
	if string(got.Msg) != string(want.Msg) {
		t.Errorf("msg: got %q, want %q", got.Msg, want.Msg)
	}
}

// The examples of RFC 5424 section 6.5, and edge cases.
func TestParseRFC5424(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Message
	}{
		{"example 1", "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
			Message{Facility: 4, Severity: 2, Timestamp: mustTime(t, "2003-10-11T22:14:15.003Z"), Hostname: "mymachine.example.com",
				AppName: "su", MsgID: "ID47", Msg: []byte("'su root' failed for lonvick on /dev/pts/8")}},
		{"example 2", "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
			Message{Facility: 20, Severity: 5, Timestamp: mustTime(t, "2003-08-24T05:14:15.000003-07:00"), Hostname: "192.0.2.1",
				AppName: "myproc", ProcID: "8710", Msg: []byte("%% It's time to make the do-nuts.")}},
		{"example 3", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...`,
			Message{Facility: 20, Severity: 5, Timestamp: mustTime(t, "2003-10-11T22:14:15.003Z"), Hostname: "mymachine.example.com",
				AppName: "evntslog", MsgID: "ID47",
				SD:  map[string]string{"exampleSDID@32473.iut": "3", "exampleSDID@32473.eventSource": "Application", "exampleSDID@32473.eventID": "1011"},
				Msg: []byte("An application event log entry...")}},
		{"example 4", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
			Message{Facility: 20, Severity: 5, Timestamp: mustTime(t, "2003-10-11T22:14:15.003Z"), Hostname: "mymachine.example.com",
				AppName: "evntslog", MsgID: "ID47",
				SD: map[string]string{"exampleSDID@32473.iut": "3", "exampleSDID@32473.eventSource": "Application", "exampleSDID@32473.eventID": "1011",
					"examplePriority@32473.class": "high"}}},
		{"all nil", "<0>1 - - - - - -", Message{}},
		{"escapes and empty element", `<14>1 2024-01-02T03:04:05Z h a 1 m [x@1 q="a \"b\" \] c\\d"][origin] msg`,
			Message{Facility: 1, Severity: 6, Timestamp: mustTime(t, "2024-01-02T03:04:05Z"), Hostname: "h", AppName: "a", ProcID: "1", MsgID: "m",
				SD: map[string]string{"x@1.q": `a "b" ] c\d`, "origin": ""}, Msg: []byte("msg")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRFC5424([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			checkMessage(t, got, tc.want)
		})
	}
	for _, bad := range []string{
		"<34>Oct 11 22:14:15 mymachine su: x", "<34>2 - - - - - -", "<192>1 - - - - - -", "<34>1 yesterday h a p m - x",
		`<34>1 - h a p m [x a="b] m`, "<34>1 - h a p m [x]garbage", "<34>1 - h", "<034>1 - - - - - -",
	} {
		if _, err := ParseRFC5424([]byte(bad)); err == nil {
			t.Errorf("%q parsed as RFC 5424", bad)
		}
	}
}

// Real-world RFC 3164 lines: the RFC's examples, and what daemons,
// network gear and logger(1) actually send.
func TestParseRFC3164(t *testing.T) {
	now := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	local := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	for _, tc := range []struct {
		name, in string
		want     Message
	}{
		{"rfc example", "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			Message{Facility: 4, Severity: 2, Timestamp: local(2025, 10, 11, 22, 14, 15), Hostname: "mymachine", AppName: "su",
				Msg: []byte("'su root' failed for lonvick on /dev/pts/8")}},
		{"no tag", "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
			Message{Facility: 1, Severity: 5, Timestamp: local(2025, 2, 5, 17, 32, 18), Hostname: "10.0.0.99", Msg: []byte("Use the BFG!")}},
		{"pid tag", "<86>Jan  2 09:58:01 web1 sshd[4123]: Accepted publickey for deploy from 10.1.2.3 port 52811 ssh2",
			Message{Facility: 10, Severity: 6, Timestamp: local(2026, 1, 2, 9, 58, 1), Hostname: "web1", AppName: "sshd", ProcID: "4123",
				Msg: []byte("Accepted publickey for deploy from 10.1.2.3 port 52811 ssh2")}},
		{"no hostname (local /dev/log style)", "<30>Jan  2 09:00:00 systemd[1]: Started Session 3 of user root.",
			Message{Facility: 3, Severity: 6, Timestamp: local(2026, 1, 2, 9, 0, 0), AppName: "systemd", ProcID: "1",
				Msg: []byte("Started Session 3 of user root.")}},
		{"no pri", "Jan  1 23:59:59 fw kernel: DROP IN=eth0",
			Message{Facility: 1, Severity: 5, Timestamp: local(2026, 1, 1, 23, 59, 59), Hostname: "fw", AppName: "kernel", Msg: []byte("DROP IN=eth0")}},
		{"last year's december", "<14>Dec 31 23:59:59 h app: bye",
			Message{Facility: 1, Severity: 6, Timestamp: local(2025, 12, 31, 23, 59, 59), Hostname: "h", AppName: "app", Msg: []byte("bye")}},
		{"year in timestamp (cisco)", "<189>Mar 14 2024 08:15:00 core-sw1 %LINK-3-UPDOWN: Interface Gi1/0/1, changed state to down",
			Message{Facility: 23, Severity: 5, Timestamp: local(2024, 3, 14, 8, 15, 0), Hostname: "core-sw1", AppName: "%LINK-3-UPDOWN",
				Msg: []byte("Interface Gi1/0/1, changed state to down")}},
		{"rfc3339 timestamp (rsyslog)", "<163>2025-06-01T12:00:00.123456+02:00 db2 postgres[77]: FATAL: too many connections",
			Message{Facility: 20, Severity: 3, Timestamp: mustTime(t, "2025-06-01T12:00:00.123456+02:00"), Hostname: "db2", AppName: "postgres", ProcID: "77",
				Msg: []byte("FATAL: too many connections")}},
		{"pri and message only", "<11>something broke", Message{Facility: 1, Severity: 3, Msg: []byte("something broke")}},
		{"tag without timestamp", "<11>cron[99]: job done", Message{Facility: 1, Severity: 3, AppName: "cron", ProcID: "99", Msg: []byte("job done")}},
		{"bare text", "hello world", Message{Facility: 1, Severity: 5, Msg: []byte("hello world")}},
		{"bad pri is text", "<999>Jan  2 09:00:00 h a: m", Message{Facility: 1, Severity: 5, Msg: []byte("<999>Jan  2 09:00:00 h a: m")}},
		{"empty", "", Message{Facility: 1, Severity: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkMessage(t, ParseRFC3164([]byte(tc.in), now), tc.want)
		})
	}
}

func TestParseDispatch(t *testing.T) {
	now := time.Now()
	if m := Parse([]byte("<34>1 - host app - - - hi"), now); m.Hostname != "host" || string(m.Msg) != "hi" {
		t.Errorf("5424 not detected: %+v", m)
	}
	if m := Parse([]byte("<34>1 not really 5424"), now); string(m.Msg) != "1 not really 5424" {
		t.Errorf("bad 5424 not read as 3164: %+v", m)
	}
}
