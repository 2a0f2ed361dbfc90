package transform

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/sluicehq/sluice/pipelines/event"
)

// Names of the environment that are not fields.
const (
	envMessage   = "message"
	envMeta      = "meta"
	envKind      = "kind"
	envTimestamp = "timestamp"
	envFields    = "fields"
	envAll       = "$env"
)

// envTypes declares the types of the names that are not fields, so that
// `kind > 3` or `timestamp.Foo()` are refused at compile time; fields are
// undeclared (any type, nil when absent).
var envTypes = map[string]any{
	envMessage:   "",
	envMeta:      map[string]string{},
	envKind:      "",
	envTimestamp: time.Time{},
	envFields:    map[string]any{},
}

// Boxed once: storing a string constant in an interface does not
// allocate, but these make it obvious.
var (
	kindLog    any = event.KindLog.String()
	kindMetric any = event.KindMetric.String()
	emptyStr   any = ""
)

// compileCondition compiles a boolean expression over an event.
func compileCondition(code string) (*vm.Program, error) {
	p, err := expr.Compile(code, expr.Env(envTypes), expr.AllowUndefinedVariables(), expr.AsBool())
	if err != nil {
		return nil, exprError(err)
	}
	return p, nil
}

// exprError returns expr's message on one line: its errors carry a
// multi-line snippet that would break FILE:LINE:COL output.
func exprError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Snippet == "" {
			return errors.New(fe.Message)
		}
		return fmt.Errorf("%s (at column %d)", fe.Message, fe.Column+1)
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return errors.New(msg)
}

// conditionError is what Validate reports for an expression that does
// not compile; empty when it does.
func checkCondition(code string) error {
	if _, err := compileCondition(code); err != nil {
		return fmt.Errorf("%q does not compile: %w", code, err)
	}
	return nil
}

// conditions is a set of compiled expressions evaluated against the same
// events (route's rules; a filter's one condition): the environment is
// built once per event for all of them.
type conditions struct {
	programs []*vm.Program
	// refs are the names the expressions mention; all is set when one
	// uses $env, which needs every field.
	refs []string
	all  bool
	// direct is set when the expressions mention fields only: the
	// event's Fields map is then the environment itself, and binding an
	// event costs nothing.
	direct bool
	pool   sync.Pool // of *evaluator
}

func newConditions(codes ...string) (*conditions, error) {
	c := &conditions{}
	seen := map[string]bool{}
	for _, code := range codes {
		p, err := compileCondition(code)
		if err != nil {
			return nil, fmt.Errorf("%q does not compile: %w", code, err)
		}
		c.programs = append(c.programs, p)
		node := p.Node()
		ast.Walk(&node, identifiers(func(name string) {
			if name == envAll {
				c.all = true
			}
			if !seen[name] {
				seen[name] = true
				c.refs = append(c.refs, name)
			}
		}))
	}
	c.direct = !slices.ContainsFunc(c.refs, isBuiltin)
	c.pool.New = func() any {
		return &evaluator{c: c, env: make(map[string]any, len(c.refs))}
	}
	return c, nil
}

// identifiers is an ast.Visitor calling itself with each identifier.
type identifiers func(name string)

func (f identifiers) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		f(id.Value)
	}
}

// get returns an evaluator for one goroutine; put it back when done.
func (c *conditions) get() *evaluator { return c.pool.Get().(*evaluator) }
func (c *conditions) put(ev *evaluator) {
	if ev.c.all {
		clear(ev.env) // do not keep the last event's fields alive
	}
	ev.fields = nil
	c.pool.Put(ev)
}

// evaluator holds what evaluating needs per goroutine: the VM (its stack
// is reused) and the environment map.
type evaluator struct {
	c   *conditions
	vm  vm.VM
	env map[string]any
	// fields is the bound event's Fields when c.direct.
	fields map[string]any
}

// isBuiltin reports whether name is not a field (or is $env, which needs
// them all).
func isBuiltin(name string) bool {
	switch name {
	case envMessage, envMeta, envKind, envTimestamp, envFields, envAll:
		return true
	}
	return false
}

// bind makes e the environment of the next match calls.
func (ev *evaluator) bind(e *event.Event) {
	if ev.c.direct {
		ev.fields = e.Fields
		return
	}
	env := ev.env
	if ev.c.all {
		clear(env)
		for k, v := range e.Fields {
			env[k] = v
		}
		for _, name := range [...]string{envMessage, envMeta, envKind, envTimestamp, envFields} {
			env[name] = builtin(name, e)
		}
		return
	}
	for _, name := range ev.c.refs {
		switch {
		case isBuiltin(name):
			env[name] = builtin(name, e)
		default:
			// A missing field stores nil: the previous event's value
			// must not show through.
			env[name] = e.Fields[name]
		}
	}
}

// builtin returns the value of a name that is not a field.
func builtin(name string, e *event.Event) any {
	switch name {
	case envMessage:
		// The field's interface value is reused as it is: boxing the
		// string again would allocate.
		if v := e.Fields[event.FieldMessage]; v != nil {
			if _, ok := v.(string); ok {
				return v
			}
		}
		return emptyStr
	case envMeta:
		if e.Meta == nil {
			return map[string]string(nil)
		}
		return e.Meta
	case envKind:
		if e.Kind == event.KindMetric {
			return kindMetric
		}
		return kindLog
	case envTimestamp:
		return e.Time
	case envFields:
		if e.Fields == nil {
			return map[string]any(nil)
		}
		return e.Fields
	}
	return nil
}

// match runs expression i against the bound event.
func (ev *evaluator) match(i int) (bool, error) {
	env := ev.env
	if ev.c.direct {
		env = ev.fields
	}
	out, err := ev.vm.Run(ev.c.programs[i], env)
	if err != nil {
		return false, exprError(err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expression returned %T, not bool", out)
	}
	return b, nil
}
