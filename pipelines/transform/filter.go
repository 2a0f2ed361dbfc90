package transform

import (
	"errors"
	"fmt"
	"slices"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// FilterConfig is the filter processor: it keeps or drops events by an
// expression. Exactly one of Condition and DropIf is set.
type FilterConfig struct {
	// Condition keeps the events it is true for (and drops the others,
	// including those it fails on).
	Condition string `yaml:"condition"`
	// DropIf drops the events it is true for (and keeps the others,
	// including those it fails on).
	DropIf string `yaml:"drop_if"`
}

// Validate checks that exactly one expression is set and compiles.
func (c *FilterConfig) Validate() error {
	switch {
	case c.Condition == "" && c.DropIf == "":
		return component.Errorf("condition", "no expression: set condition (keep events where it is true) or drop_if (drop events where it is true)")
	case c.Condition != "" && c.DropIf != "":
		return component.Errorf("drop_if", "set condition or drop_if, not both")
	case c.Condition != "":
		if err := checkCondition(c.Condition); err != nil {
			return component.Errorf("condition", "%v", err)
		}
	default:
		if err := checkCondition(c.DropIf); err != nil {
			return component.Errorf("drop_if", "%v", err)
		}
	}
	return nil
}

// Filter is the filter processor.
type Filter struct {
	cond    *conditions
	keepIf  bool // what the expression must return for the event to stay
	key     string
	errs    *exprErrors
	dropped *metrics.Counter
}

// NewFilter returns a filter processor.
func NewFilter(cfg FilterConfig, set component.Settings) (*Filter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Filter{keepIf: true, key: "condition", errs: newExprErrors(set), dropped: droppedCounter(set, reasonFiltered)}
	code := cfg.Condition
	if cfg.DropIf != "" {
		f.keepIf, f.key, code = false, "drop_if", cfg.DropIf
	}
	var err error
	if f.cond, err = newConditions(code); err != nil {
		return nil, fmt.Errorf("%s: %w", f.key, err)
	}
	return f, nil
}

// Process returns the events to keep, in order, in events' array.
func (f *Filter) Process(events []*event.Event) []*event.Event {
	ev := f.cond.get()
	defer f.cond.put(ev)
	out := events[:0]
	for _, e := range events {
		ev.bind(e)
		ok, err := ev.match(0)
		if err != nil {
			f.errs.add(f.key, err)
		}
		if ok == f.keepIf {
			out = append(out, e)
		}
	}
	if n := len(events) - len(out); n > 0 {
		f.dropped.Add(n)
	}
	return out
}

// RouteConfig is the route processor: it sends events to sinks chosen by
// expressions, setting event.Routes.
type RouteConfig struct {
	// Routes are tried in order.
	Routes []Route `yaml:"routes"`
	// Default names the sinks of events no route took. When it is empty
	// they go to the pipeline's `to` (their Routes stay as they were).
	Default []string `yaml:"default"`
	// Mode is first (default: the first route whose condition is true
	// takes the event) or all (the event goes to the sinks of every route
	// whose condition is true, each sink once).
	Mode string `yaml:"mode"`
}

// Route is one entry of RouteConfig.Routes.
type Route struct {
	// Condition is an expression; the route takes the events it is true
	// for.
	Condition string `yaml:"condition"`
	// To names the sinks (collector.sinks keys); at least one.
	To []string `yaml:"to"`
}

// Modes of the route processor.
const (
	RouteFirst = "first"
	RouteAll   = "all"
)

// maxRoutesAll bounds the routes of mode all: the sinks of each
// combination of matching routes are cached under a 64-bit mask.
const maxRoutesAll = 64

// Validate checks the routes, their conditions and the mode.
func (c *RouteConfig) Validate() error {
	var errs []error
	if len(c.Routes) == 0 {
		errs = append(errs, component.Errorf("routes", "no routes: give at least one {condition, to}"))
	}
	switch c.Mode {
	case "", RouteFirst:
	case RouteAll:
		if len(c.Routes) > maxRoutesAll {
			errs = append(errs, component.Errorf("routes", "%d routes: mode all takes at most %d", len(c.Routes), maxRoutesAll))
		}
	default:
		errs = append(errs, component.Errorf("mode", "%q is not first or all", c.Mode))
	}
	for i, r := range c.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		if r.Condition == "" {
			errs = append(errs, component.Errorf(path+".condition", "no condition: want an expression such as level == \"error\""))
		} else if err := checkCondition(r.Condition); err != nil {
			errs = append(errs, component.Errorf(path+".condition", "%v", err))
		}
		if len(r.To) == 0 {
			errs = append(errs, component.Errorf(path+".to", "name at least one sink"))
		}
		errs = append(errs, checkSinkNames(path+".to", r.To)...)
	}
	errs = append(errs, checkSinkNames("default", c.Default)...)
	return errors.Join(errs...)
}

func checkSinkNames(path string, names []string) []error {
	var errs []error
	for i, name := range names {
		if name == "" {
			errs = append(errs, component.Errorf(fmt.Sprintf("%s[%d]", path, i), "empty sink name"))
		}
	}
	return errs
}

// SinkRefs returns the sinks the config names, by key.
func (c *RouteConfig) SinkRefs() map[string][]string {
	refs := make(map[string][]string, len(c.Routes)+1)
	for i, r := range c.Routes {
		refs[fmt.Sprintf("routes[%d].to", i)] = r.To
	}
	if len(c.Default) > 0 {
		refs["default"] = c.Default
	}
	return refs
}

// Router is the route processor.
type Router struct {
	cond *conditions
	// to are the routes' sinks and def the default's (nil: leave
	// Routes). They are clipped: an event's Routes shares them, and an
	// append to it must copy.
	to   [][]string
	def  []string
	all  bool
	errs *exprErrors
	// union caches mode all's sinks per mask of matching routes.
	union *unionCache
}

// NewRoute returns a route processor.
func NewRoute(cfg RouteConfig, set component.Settings) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Router{all: cfg.Mode == RouteAll, errs: newExprErrors(set)}
	codes := make([]string, len(cfg.Routes))
	for i, route := range cfg.Routes {
		codes[i] = route.Condition
		r.to = append(r.to, slices.Clip(slices.Clone(route.To)))
	}
	if len(cfg.Default) > 0 {
		r.def = slices.Clip(slices.Clone(cfg.Default))
	}
	var err error
	if r.cond, err = newConditions(codes...); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	if r.all {
		r.union = newUnionCache(r.to)
	}
	return r, nil
}

// Process sets the Routes of the events.
func (r *Router) Process(events []*event.Event) []*event.Event {
	ev := r.cond.get()
	defer r.cond.put(ev)
	for _, e := range events {
		ev.bind(e)
		var routes []string
		if r.all {
			routes = r.union.get(r.matchAll(ev))
		} else {
			routes = r.matchFirst(ev)
		}
		if routes == nil {
			routes = r.def
		}
		if routes != nil {
			e.Routes = routes
		}
	}
	return events
}

func (r *Router) matchFirst(ev *evaluator) []string {
	for i := range r.to {
		ok, err := ev.match(i)
		if err != nil {
			r.errs.add(fmt.Sprintf("routes[%d].condition", i), err)
		}
		if ok {
			return r.to[i]
		}
	}
	return nil
}

func (r *Router) matchAll(ev *evaluator) uint64 {
	var mask uint64
	for i := range r.to {
		ok, err := ev.match(i)
		if err != nil {
			r.errs.add(fmt.Sprintf("routes[%d].condition", i), err)
		}
		if ok {
			mask |= 1 << i
		}
	}
	return mask
}
