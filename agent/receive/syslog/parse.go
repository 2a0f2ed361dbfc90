package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Message is a parsed syslog message. Fields a message does not carry
// are empty ("-" in RFC 5424 is the nil value and becomes empty too).
type Message struct {
	Facility, Severity int
	// Timestamp is zero when the message has none.
	Timestamp time.Time
	Hostname  string
	AppName   string
	ProcID    string
	MsgID     string
	// SD is structured data flattened as "<sd-id>.<param-name>"; a
	// repeated param keeps its last value.
	SD map[string]string
	// Msg is the free-form part, aliasing the input.
	Msg []byte
}

// Defaults of a message without PRI, as RFC 3164 section 4.3.3 says a
// relay must assume: facility user, severity notice.
const (
	defaultFacility = 1
	defaultSeverity = 5
)

var errSyntax = errors.New("syslog syntax")

// Parse parses b as RFC 5424 when it looks like it ("<PRI>1 "), and as
// RFC 3164 otherwise or when it is not valid 5424. RFC 3164 parsing
// never fails: what cannot be read as a header is the message.
func Parse(b []byte, now time.Time) Message {
	if m, err := ParseRFC5424(b); err == nil {
		return m
	}
	return ParseRFC3164(b, now)
}

// parsePRI reads "<N>" with N in 0..191 and returns N and the rest.
func parsePRI(b []byte) (int, []byte, bool) {
	if len(b) < 3 || b[0] != '<' {
		return 0, b, false
	}
	end := bytes.IndexByte(b[:min(len(b), 5)], '>')
	if end < 2 {
		return 0, b, false
	}
	digits := b[1:end]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, b, false
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, b, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 191 {
		return 0, b, false
	}
	return n, b[end+1:], true
}

// ParseRFC5424 parses an RFC 5424 message:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]
func ParseRFC5424(b []byte) (Message, error) {
	var m Message
	pri, rest, ok := parsePRI(b)
	if !ok {
		return m, fmt.Errorf("%w: PRI", errSyntax)
	}
	m.Facility, m.Severity = pri/8, pri%8
	if !bytes.HasPrefix(rest, []byte("1 ")) {
		return m, fmt.Errorf("%w: version", errSyntax)
	}
	rest = rest[2:]
	var fields [5]string
	for i := range fields {
		sp := bytes.IndexByte(rest, ' ')
		if sp <= 0 {
			return m, fmt.Errorf("%w: header field %d", errSyntax, i)
		}
		fields[i], rest = nilValue(string(rest[:sp])), rest[sp+1:]
	}
	if fields[0] != "" {
		ts, err := time.Parse(time.RFC3339Nano, fields[0])
		if err != nil {
			return m, fmt.Errorf("%w: timestamp: %w", errSyntax, err)
		}
		m.Timestamp = ts
	}
	m.Hostname, m.AppName, m.ProcID, m.MsgID = fields[1], fields[2], fields[3], fields[4]
	sd, rest, err := parseSD(rest)
	if err != nil {
		return m, err
	}
	m.SD = sd
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return m, fmt.Errorf("%w: no space after structured data", errSyntax)
		}
		m.Msg = bytes.TrimPrefix(rest[1:], []byte("\xef\xbb\xbf")) // BOM
	}
	return m, nil
}

func nilValue(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// parseSD reads "-" or one or more [id param="value" ...] elements.
func parseSD(b []byte) (map[string]string, []byte, error) {
	if len(b) > 0 && b[0] == '-' {
		return nil, b[1:], nil
	}
	if len(b) == 0 || b[0] != '[' {
		return nil, b, fmt.Errorf("%w: structured data", errSyntax)
	}
	sd := make(map[string]string)
	// Which ids have params, so an element without any is reported once
	// without scanning the map per element (quadratic on hostile input).
	withParams := map[string]bool{}
	for len(b) > 0 && b[0] == '[' {
		end := bytes.IndexAny(b, " ]")
		if end <= 1 {
			return nil, b, fmt.Errorf("%w: SD-ID", errSyntax)
		}
		id := string(b[1:end])
		b = b[end:]
		for len(b) > 0 && b[0] == ' ' {
			eq := bytes.IndexByte(b, '=')
			if eq <= 1 || len(b) < eq+2 || b[eq+1] != '"' {
				return nil, b, fmt.Errorf("%w: SD-PARAM in %q", errSyntax, id)
			}
			name := string(b[1:eq])
			val, n, ok := sdValue(b[eq+2:])
			if !ok {
				return nil, b, fmt.Errorf("%w: unterminated value of %s.%s", errSyntax, id, name)
			}
			sd[id+"."+name] = val
			withParams[id] = true
			b = b[eq+2+n:]
		}
		if len(b) == 0 || b[0] != ']' {
			return nil, b, fmt.Errorf("%w: unterminated SD-ELEMENT %q", errSyntax, id)
		}
		b = b[1:]
		if _, ok := sd[id]; !ok && !withParams[id] {
			sd[id] = "" // an element without params is still reported
		}
	}
	return sd, b, nil
}

// sdValue reads a PARAM-VALUE up to its closing quote, unescaping \" \\
// and \], and returns it with the bytes consumed including the quote.
func sdValue(b []byte) (string, int, bool) {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			return sb.String(), i + 1, true
		case '\\':
			if i+1 < len(b) && (b[i+1] == '"' || b[i+1] == '\\' || b[i+1] == ']') {
				i++
				sb.WriteByte(b[i])
				continue
			}
			sb.WriteByte(c)
		default:
			sb.WriteByte(c)
		}
	}
	return "", 0, false
}

// ParseRFC3164 parses a BSD syslog message as seen in the wild:
//
//	[<PRI>][TIMESTAMP ][HOSTNAME ][TAG[ '[' PID ']' ]: ]MSG
//
// TIMESTAMP is "Mmm dd hh:mm:ss" (year from now, or the year before if
// that would put it more than a day in the future), optionally with a
// year after the day, or RFC 3339. A missing PRI means user.notice.
// Without a timestamp no hostname is looked for; a word ending in ':'
// or holding '[' right after the timestamp is the tag, not a hostname.
func ParseRFC3164(b []byte, now time.Time) Message {
	m := Message{Facility: defaultFacility, Severity: defaultSeverity}
	if pri, rest, ok := parsePRI(b); ok {
		m.Facility, m.Severity = pri/8, pri%8
		b = rest
	}
	ts, rest, ok := parse3164Time(b, now)
	if ok {
		m.Timestamp = ts
		b = rest
		if w, after, ok := word(b); ok && !isTag(w) {
			m.Hostname = string(w)
			b = after
		}
	}
	m.AppName, m.ProcID, b = parseTag(b)
	m.Msg = b
	return m
}

// word returns the first space-terminated word of b and what follows
// the space.
func word(b []byte) ([]byte, []byte, bool) {
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 {
		return nil, b, false
	}
	return b[:sp], b[sp+1:], true
}

func isTag(w []byte) bool {
	return w[len(w)-1] == ':' || bytes.IndexByte(w, '[') >= 0
}

// parseTag reads "app[pid]: " or "app: " and returns app, pid and the
// message; without such a tag everything is the message.
func parseTag(b []byte) (string, string, []byte) {
	w, after, ok := word(b)
	if !ok {
		// A message of one word, or "app:" with nothing after it.
		if len(b) > 1 && b[len(b)-1] == ':' && validTag(b[:len(b)-1]) {
			return string(b[:len(b)-1]), "", nil
		}
		return "", "", b
	}
	if w[len(w)-1] != ':' {
		return "", "", b
	}
	w = w[:len(w)-1]
	var pid []byte
	if open := bytes.IndexByte(w, '['); open > 0 && w[len(w)-1] == ']' {
		w, pid = w[:open], w[open+1:len(w)-1]
	}
	if !validTag(w) {
		return "", "", b
	}
	return string(w), string(pid), after
}

// validTag accepts printable ASCII without brackets or colons, up to
// 48 bytes (RFC 5424's APP-NAME bound; RFC 3164 says 32 but daemons
// exceed it).
func validTag(w []byte) bool {
	if len(w) == 0 || len(w) > 48 {
		return false
	}
	for _, c := range w {
		if c <= ' ' || c > '~' || c == '[' || c == ']' || c == ':' {
			return false
		}
	}
	return true
}

var months = map[string]time.Month{
	"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}

// parse3164Time reads "Mmm dd hh:mm:ss ", "Mmm dd yyyy hh:mm:ss " or an
// RFC 3339 word, in now's location.
func parse3164Time(b []byte, now time.Time) (time.Time, []byte, bool) {
	if len(b) >= 20 && b[0] >= '0' && b[0] <= '9' {
		if w, rest, ok := word(b); ok {
			if ts, err := time.Parse(time.RFC3339Nano, string(w)); err == nil {
				return ts, rest, true
			}
		}
		return time.Time{}, b, false
	}
	if len(b) < 16 || b[3] != ' ' {
		return time.Time{}, b, false
	}
	mon, ok := months[string(b[:3])]
	if !ok {
		return time.Time{}, b, false
	}
	day, err := strconv.Atoi(strings.TrimLeft(string(b[4:6]), " "))
	if err != nil || day < 1 || day > 31 || b[6] != ' ' {
		return time.Time{}, b, false
	}
	rest := b[7:]
	year, explicitYear := now.Year(), false
	if len(rest) >= 5 && rest[4] == ' ' {
		if y, err := strconv.Atoi(string(rest[:4])); err == nil {
			year, explicitYear, rest = y, true, rest[5:]
		}
	}
	if len(rest) < 8 || rest[2] != ':' || rest[5] != ':' {
		return time.Time{}, b, false
	}
	hh, e1 := strconv.Atoi(string(rest[0:2]))
	mm, e2 := strconv.Atoi(string(rest[3:5]))
	ss, e3 := strconv.Atoi(string(rest[6:8]))
	if e1 != nil || e2 != nil || e3 != nil || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, b, false
	}
	rest = rest[8:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return time.Time{}, b, false
		}
		rest = rest[1:]
	}
	ts := time.Date(year, mon, day, hh, mm, ss, 0, now.Location())
	if !explicitYear && ts.After(now.Add(24*time.Hour)) {
		// "Dec 31 23:59:59" read on Jan 1st is last year's.
		ts = time.Date(year-1, mon, day, hh, mm, ss, 0, now.Location())
	}
	return ts, rest, true
}
