package parse

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// TimestampConfig is timestamp: the event's Time is read from a field.
type TimestampConfig struct {
	// Field is the dotted path of the time. Default "timestamp". It may
	// be a string, a number (for the unix layouts) or a time (as
	// parse_syslog sets; taken as it is).
	Field string `yaml:"field"`
	// Layouts are tried in order; the first that reads the field wins.
	// Each is a name, rfc3339, rfc3339nano, unix (seconds since 1970,
	// maybe fractional, a number or a string), unix_ms, unix_us,
	// unix_ns or common_log (02/Jan/2006:15:04:05 -0700, as in Apache
	// and nginx access logs), or a Go layout ("2006-01-02 15:04:05").
	// Default [rfc3339nano, unix]. A time outside the years 0-9999 is
	// refused, so [unix, unix_ms] tells seconds from milliseconds.
	Layouts []string `yaml:"layouts"`
	// Timezone is the IANA zone of times whose layout has no zone.
	// Default UTC.
	Timezone string `yaml:"timezone"`
	// Remove deletes the field once read. Default false.
	Remove bool `yaml:"remove"`
	// OnError is what happens to an event whose field is missing or
	// matches no layout: keep (default: passed on unchanged) or drop.
	OnError string `yaml:"on_error"`
}

// Layout names of the timestamp processor.
const (
	LayoutRFC3339     = "rfc3339"
	LayoutRFC3339Nano = "rfc3339nano"
	LayoutUnix        = "unix"
	LayoutUnixMs      = "unix_ms"
	LayoutUnixUs      = "unix_us"
	LayoutUnixNs      = "unix_ns"
	LayoutCommonLog   = "common_log"
)

// DefaultTimestampField and DefaultLayouts are the defaults of timestamp.
const DefaultTimestampField = "timestamp"

// DefaultLayouts are the layouts tried unless the config names others.
var DefaultLayouts = []string{LayoutRFC3339Nano, LayoutUnix}

// layoutNames maps the names to Go layouts, or to the units per second
// of a unix layout.
var layoutNames = map[string]layout{
	LayoutRFC3339:     {goLayout: time.RFC3339},
	LayoutRFC3339Nano: {goLayout: time.RFC3339Nano},
	LayoutCommonLog:   {goLayout: "02/Jan/2006:15:04:05 -0700"},
	LayoutUnix:        {perSecond: 1},
	LayoutUnixMs:      {perSecond: 1e3},
	LayoutUnixUs:      {perSecond: 1e6},
	LayoutUnixNs:      {perSecond: 1e9},
}

// layout is a Go layout, or a unix time in units of 1/perSecond s.
type layout struct {
	name      string
	goLayout  string
	perSecond int64
}

// Validate checks the keys.
func (c *TimestampConfig) Validate() error {
	var errs []error
	if err := checkPath("field", c.Field); err != nil {
		errs = append(errs, err)
	}
	if _, err := compileLayouts(c.Layouts); err != nil {
		errs = append(errs, err)
	}
	if _, err := loadLocation(c.Timezone); err != nil {
		errs = append(errs, err)
	}
	if err := checkOnError(c.OnError); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func compileLayouts(names []string) ([]layout, error) {
	if len(names) == 0 {
		names = DefaultLayouts
	}
	var errs []error
	out := make([]layout, 0, len(names))
	for i, n := range names {
		l, ok := layoutNames[n]
		if !ok {
			if !isGoLayout(n) {
				errs = append(errs, component.Errorf(fmt.Sprintf("layouts[%d]", i),
					"%q is not a layout name (%s, %s, %s, %s, %s, %s, %s) nor a Go layout with a time element like 2006 or 15:04:05",
					n, LayoutRFC3339, LayoutRFC3339Nano, LayoutUnix, LayoutUnixMs, LayoutUnixUs, LayoutUnixNs, LayoutCommonLog))
				continue
			}
			l = layout{goLayout: n}
		}
		l.name = n
		out = append(out, l)
	}
	return out, errors.Join(errs...)
}

// isGoLayout tells a Go layout from a misspelt name: formatting a time
// with a layout of no element gives the layout back.
func isGoLayout(s string) bool {
	t := time.Date(1999, 12, 31, 23, 58, 57, 123456789, time.UTC)
	return s != "" && t.Format(s) != s
}

// Timestamp is the timestamp processor.
type Timestamp struct {
	base
	field   string
	layouts []layout
	loc     *time.Location
	remove  bool
	// hasUnix tells whether a number can be read at all.
	hasUnix bool
}

// NewTimestamp returns a timestamp processor.
func NewTimestamp(cfg TimestampConfig, set component.Settings) (*Timestamp, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	layouts, err := compileLayouts(cfg.Layouts)
	if err != nil {
		return nil, err
	}
	loc, err := loadLocation(cfg.Timezone)
	if err != nil {
		return nil, err
	}
	p := &Timestamp{field: cfg.Field, layouts: layouts, loc: loc, remove: cfg.Remove}
	if p.field == "" {
		p.field = DefaultTimestampField
	}
	p.base = newBase(cfg.OnError, set)
	for _, l := range layouts {
		p.hasUnix = p.hasUnix || l.perSecond > 0
	}
	return p, nil
}

// Process sets the time of each log event from its field.
func (p *Timestamp) Process(events []*event.Event) []*event.Event { return p.run(events, p) }

var (
	errNoLayout   = errors.New("matches none of the layouts")
	errOutOfRange = errors.New("out of the years 0-9999")
)

func (p *Timestamp) parse(e *event.Event) error {
	v, ok := e.Get(p.field)
	if !ok {
		return fmt.Errorf("%s: %w", p.field, errMissing)
	}
	t, err := p.read(v)
	if err != nil {
		return fmt.Errorf("%s %.100s: %w", p.field, event.AppendValue(nil, v), err)
	}
	e.Time = t
	if p.remove {
		e.Delete(p.field)
	}
	return nil
}

// read returns the time v holds, by the first layout that reads it.
func (p *Timestamp) read(v any) (time.Time, error) {
	var num [32]byte
	var s string
	isNumber := true
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		s, isNumber = x, false
	case float64:
		// The shortest decimal that is the float, read exactly: 1.7e9+0.123
		// is .123 s, not the .122999906 s its binary value is.
		s = string(strconv.AppendFloat(num[:0], x, 'f', -1, 64))
	case int64:
		s = strconv.FormatInt(x, 10)
	case int:
		s = strconv.Itoa(x)
	default:
		return time.Time{}, fmt.Errorf("%s, not a string or a number", typeName(v))
	}
	if isNumber && !p.hasUnix {
		return time.Time{}, errors.New("a number, and no unix layout is configured")
	}
	for _, l := range p.layouts {
		var t time.Time
		var err error
		switch {
		case l.perSecond > 0:
			t, err = parseUnix(s, l.perSecond)
		case isNumber:
			continue
		default:
			t, err = time.ParseInLocation(l.goLayout, s, p.loc)
		}
		if err == nil && (t.Year() < 0 || t.Year() > 9999) {
			err = errOutOfRange
		}
		if err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w %s", errNoLayout, p.layoutList())
}

func (p *Timestamp) layoutList() string {
	names := make([]string, len(p.layouts))
	for i, l := range p.layouts {
		names[i] = strconv.Quote(l.name)
	}
	return strings.Join(names, ", ")
}

var errUnix = errors.New("not a unix time")

// maxUnix bounds the seconds of a unix time, beyond the years 0-9999
// but far from where time.Unix would overflow.
const maxUnix = 1 << 40

// parseUnix reads a decimal number of 1/perSecond seconds since 1970,
// with an optional sign and fraction, exactly (to the nanosecond); a
// number with an exponent is read as a float64.
func parseUnix(s string, perSecond int64) (time.Time, error) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return time.Time{}, errUnix
	}
	if strings.ContainsAny(s, "eE") {
		return parseUnixFloat(s, neg, perSecond)
	}
	units, err := digits(intPart)
	if err != nil {
		return time.Time{}, err
	}
	// Nanoseconds per unit, and the fraction of a unit in nanoseconds.
	nsPerUnit := int64(time.Second) / perSecond
	var fracNs int64
	scale := nsPerUnit
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return time.Time{}, errUnix
		}
		scale /= 10
		fracNs += int64(c-'0') * scale
	}
	sec, nsec := units/perSecond, (units%perSecond)*nsPerUnit+fracNs
	if sec > maxUnix {
		return time.Time{}, errOutOfRange
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// digits reads a non-negative integer; "" is 0 (".5").
func digits(s string) (int64, error) {
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errUnix
		}
		if n > (math.MaxInt64-9)/10 {
			return 0, errOutOfRange
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

func parseUnixFloat(s string, neg bool, perSecond int64) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, errUnix
	}
	sec := f / float64(perSecond)
	if sec > maxUnix {
		return time.Time{}, errOutOfRange
	}
	if neg {
		sec = -sec
	}
	whole := math.Floor(sec)
	return time.Unix(int64(whole), int64(math.Round((sec-whole)*1e9))).UTC(), nil
}
