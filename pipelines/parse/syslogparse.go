package parse

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// syslogMessage is a parsed syslog line. Its strings are substrings of
// the line, but for structured-data values holding escapes.
type syslogMessage struct {
	facility, severity int
	// timestamp is zero when the line has none.
	timestamp                        time.Time
	hostname, appname, procid, msgid string
	// sd is the structured data, SD-ID -> param name -> value (string);
	// nil when there is none.
	sd  map[string]any
	msg string
}

// Defaults of a line without PRI, as RFC 3164 section 4.3.3 says a relay
// must assume: facility user, severity notice.
const (
	defaultFacility = 1
	defaultSeverity = 5
)

var (
	errSyslog    = errors.New("syslog")
	errNotSyslog = errors.New("not a syslog line: no <PRI>, no timestamp")
)

// parseSyslog reads an RFC 5424 line when it is one, and an RFC 3164
// line otherwise. A line that starts like 5424 ("<PRI>1 ") but is not
// valid 5424 is read as 3164, as rsyslog does. An RFC 3164 line needs a
// PRI or a timestamp: without either it is not syslog. RFC 3164
// timestamps, which have neither year nor zone, are read in loc, in the
// year that puts them closest before now (allowing a day of clock skew).
func parseSyslog(s string, now time.Time, loc *time.Location) (syslogMessage, error) {
	if m, err := parseRFC5424(s); err == nil {
		return m, nil
	}
	return parseRFC3164(s, now, loc)
}

// parsePRI reads "<N>" with N in 0..191, without leading zeros.
func parsePRI(s string) (int, string, bool) {
	if len(s) < 3 || s[0] != '<' {
		return 0, s, false
	}
	end := strings.IndexByte(s[:min(len(s), 5)], '>')
	if end < 2 || (end > 2 && s[1] == '0') {
		return 0, s, false
	}
	n := 0
	for _, c := range []byte(s[1:end]) {
		if c < '0' || c > '9' {
			return 0, s, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 191 {
		return 0, s, false
	}
	return n, s[end+1:], true
}

// Bounds of the RFC 5424 header fields.
var headerMax = [...]int{0, 255, 48, 128, 32} // timestamp, hostname, app-name, procid, msgid

// parseRFC5424 reads
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [SP MSG]
//
// where "-" is an absent field and header fields are printable ASCII.
func parseRFC5424(s string) (syslogMessage, error) {
	var m syslogMessage
	pri, rest, ok := parsePRI(s)
	if !ok {
		return m, fmt.Errorf("%w: PRI", errSyslog)
	}
	m.facility, m.severity = pri/8, pri%8
	rest, ok = strings.CutPrefix(rest, "1 ")
	if !ok {
		return m, fmt.Errorf("%w: version", errSyslog)
	}
	var fields [5]string
	for i := range fields {
		sp := strings.IndexByte(rest, ' ')
		if sp <= 0 || (headerMax[i] > 0 && sp > headerMax[i]) || !printASCII(rest[:sp]) {
			return m, fmt.Errorf("%w: header field %d", errSyslog, i+1)
		}
		if rest[:sp] != "-" {
			fields[i] = rest[:sp]
		}
		rest = rest[sp+1:]
	}
	if fields[0] != "" {
		ts, err := time.Parse(time.RFC3339Nano, fields[0])
		if err != nil {
			return m, fmt.Errorf("%w: timestamp: %w", errSyslog, err)
		}
		m.timestamp = ts
	}
	m.hostname, m.appname, m.procid, m.msgid = fields[1], fields[2], fields[3], fields[4]
	sd, rest, err := parseSD(rest)
	if err != nil {
		return m, err
	}
	m.sd = sd
	if rest != "" {
		if rest[0] != ' ' {
			return m, fmt.Errorf("%w: no space after the structured data", errSyslog)
		}
		m.msg = strings.TrimPrefix(rest[1:], "\ufeff") // the BOM of a UTF-8 MSG
	}
	return m, nil
}

func printASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// parseSD reads "-" or one or more [SD-ID PARAM="VALUE"...] elements.
// An element without params is an empty map; a param repeated within
// an element, or an SD-ID repeated, keeps the last value.
func parseSD(s string) (map[string]any, string, error) {
	if strings.HasPrefix(s, "-") {
		return nil, s[1:], nil
	}
	if !strings.HasPrefix(s, "[") {
		return nil, s, fmt.Errorf("%w: structured data", errSyslog)
	}
	sd := map[string]any{}
	for strings.HasPrefix(s, "[") {
		id, rest, ok := sdName(s[1:])
		if !ok {
			return nil, s, fmt.Errorf("%w: SD-ID", errSyslog)
		}
		params, _ := sd[id].(map[string]any)
		if params == nil {
			params = map[string]any{}
			sd[id] = params
		}
		for strings.HasPrefix(rest, " ") {
			name, after, ok := sdName(rest[1:])
			if !ok || !strings.HasPrefix(after, `="`) {
				return nil, s, fmt.Errorf("%w: SD-PARAM in %.32q", errSyslog, id)
			}
			val, tail, ok := sdValue(after[2:])
			if !ok {
				return nil, s, fmt.Errorf("%w: unterminated value of %.32q in %.32q", errSyslog, name, id)
			}
			params[name] = val
			rest = tail
		}
		if !strings.HasPrefix(rest, "]") {
			return nil, s, fmt.Errorf("%w: unterminated SD-ELEMENT %.32q", errSyslog, id)
		}
		s = rest[1:]
	}
	return sd, s, nil
}

// sdName reads an SD-NAME: 1 to 32 printable ASCII characters but
// = space ] and ".
func sdName(s string) (string, string, bool) {
	i := 0
	for i < len(s) && i <= 32 && s[i] > ' ' && s[i] <= '~' && s[i] != '=' && s[i] != ']' && s[i] != '"' {
		i++
	}
	if i == 0 || i > 32 {
		return "", s, false
	}
	return s[:i], s[i:], true
}

// sdValue reads a PARAM-VALUE up to its closing quote, unescaping \" \\
// and \] (a backslash before anything else is kept, as RFC 5424 says),
// and returns it and what follows the quote.
func sdValue(s string) (string, string, bool) {
	end := strings.IndexAny(s, `"\`)
	if end < 0 {
		return "", s, false
	}
	if s[end] == '"' {
		return s[:end], s[end+1:], true // no escapes: a substring
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\' || s[i+1] == ']') {
				i++
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", s, false
}

// parseRFC3164 reads a BSD syslog line as seen in the wild:
//
//	[<PRI>][TIMESTAMP SP][HOSTNAME SP][TAG[ '[' PID ']' ]: ]MSG
//
// TIMESTAMP is "Mmm dd hh:mm:ss" with optional fractional seconds, a
// year after the day ("Mmm dd yyyy hh:mm:ss", Cisco) or an RFC 3339
// word (rsyslog). Without a timestamp no hostname is looked for; a word
// ending in ':' or holding '[' right after the timestamp is the tag,
// not a hostname. A line with neither PRI nor timestamp is an error.
func parseRFC3164(s string, now time.Time, loc *time.Location) (syslogMessage, error) {
	m := syslogMessage{facility: defaultFacility, severity: defaultSeverity}
	pri, rest, hasPRI := parsePRI(s)
	if hasPRI {
		m.facility, m.severity = pri/8, pri%8
		s = rest
	}
	ts, rest, hasTime := parse3164Time(s, now, loc)
	if !hasPRI && !hasTime {
		return m, errNotSyslog
	}
	if hasTime {
		m.timestamp = ts
		s = rest
		if w, after, ok := word(s); ok && !isTag(w) {
			m.hostname, s = w, after
		}
	}
	m.appname, m.procid, m.msg = parseTag(s)
	return m, nil
}

// word returns the first space-terminated word of s and what follows
// the space.
func word(s string) (string, string, bool) {
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return "", s, false
	}
	return s[:sp], s[sp+1:], true
}

func isTag(w string) bool {
	return w[len(w)-1] == ':' || strings.IndexByte(w, '[') >= 0
}

// parseTag reads "app[pid]: " or "app: " and returns app, pid and the
// message; without such a tag everything is the message.
func parseTag(s string) (app, pid, msg string) {
	w, after, ok := word(s)
	if !ok {
		// A message of one word, or "app:" with nothing after it.
		if t, ok := strings.CutSuffix(s, ":"); ok && validTag(t) {
			return t, "", ""
		}
		return "", "", s
	}
	w, ok = strings.CutSuffix(w, ":")
	if !ok {
		return "", "", s
	}
	if open := strings.IndexByte(w, '['); open > 0 && w[len(w)-1] == ']' {
		w, pid = w[:open], w[open+1:len(w)-1]
	}
	if !validTag(w) {
		return "", "", s
	}
	return w, pid, after
}

// validTag accepts printable ASCII without brackets or colons, up to
// 48 bytes (RFC 5424's APP-NAME bound; RFC 3164 says 32 but daemons
// exceed it).
func validTag(w string) bool {
	if len(w) == 0 || len(w) > 48 {
		return false
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c <= ' ' || c > '~' || c == '[' || c == ']' || c == ':' {
			return false
		}
	}
	return true
}

var months = map[string]time.Month{
	"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}

// parse3164Time reads "Mmm dd hh:mm:ss[.frac] ", "Mmm dd yyyy
// hh:mm:ss[.frac] " or an RFC 3339 word and returns what follows.
func parse3164Time(s string, now time.Time, loc *time.Location) (time.Time, string, bool) {
	if len(s) >= 20 && s[0] >= '0' && s[0] <= '9' {
		w, rest, ok := word(s)
		if !ok {
			w, rest = s, ""
		}
		ts, err := time.Parse(time.RFC3339Nano, w)
		return ts, rest, err == nil
	}
	if len(s) < 15 || s[3] != ' ' || s[6] != ' ' {
		return time.Time{}, s, false
	}
	mon, ok := months[s[:3]]
	if !ok {
		return time.Time{}, s, false
	}
	day, ok := twoDigits(s[4:6])
	if s[4] == ' ' && s[5] >= '1' && s[5] <= '9' {
		day, ok = int(s[5]-'0'), true // "Feb  5"
	}
	if !ok || day < 1 || day > 31 {
		return time.Time{}, s, false
	}
	rest := s[7:]
	year, explicitYear := 0, false
	if len(rest) >= 5 && rest[4] == ' ' {
		hi, ok1 := twoDigits(rest[:2])
		lo, ok2 := twoDigits(rest[2:4])
		if ok1 && ok2 && hi > 0 {
			year, explicitYear, rest = hi*100+lo, true, rest[5:]
		}
	}
	c, rest, ok := readClock(rest)
	if !ok {
		return time.Time{}, s, false
	}
	if rest != "" {
		if rest[0] != ' ' {
			return time.Time{}, s, false
		}
		rest = rest[1:]
	}
	if !explicitYear {
		// The year that puts the time closest before now: "Dec 31
		// 23:59:59" read on January 1st is last year's.
		year = now.In(loc).Year()
		if c.date(year, mon, day, loc).After(now.Add(24 * time.Hour)) {
			year--
		}
	}
	ts := c.date(year, mon, day, loc)
	if ts.Day() != day {
		return time.Time{}, s, false // Feb 30th
	}
	return ts, rest, true
}

// clock is a time of day.
type clock struct{ h, m, s, ns int }

func (c clock) date(year int, mon time.Month, day int, loc *time.Location) time.Time {
	return time.Date(year, mon, day, c.h, c.m, c.s, c.ns, loc)
}

// readClock reads hh:mm:ss with optional fractional seconds (digits
// past nanoseconds are ignored).
func readClock(s string) (clock, string, bool) {
	var c clock
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return c, s, false
	}
	var ok1, ok2, ok3 bool
	c.h, ok1 = twoDigits(s[0:2])
	c.m, ok2 = twoDigits(s[3:5])
	c.s, ok3 = twoDigits(s[6:8])
	if !ok1 || !ok2 || !ok3 || c.h > 23 || c.m > 59 || c.s > 60 {
		return c, s, false
	}
	s = s[8:]
	if len(s) > 1 && s[0] == '.' {
		i, scale := 1, int(time.Second)
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if scale > 1 {
				scale /= 10
				c.ns += int(s[i]-'0') * scale
			}
		}
		if i == 1 {
			return c, s, false
		}
		s = s[i:]
	}
	return c, s, true
}

func twoDigits(s string) (int, bool) {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}
