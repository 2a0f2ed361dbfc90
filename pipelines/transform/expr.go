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
	"github.com/expr-lang/expr/parser"
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
	p, err := expr.Compile(code, expr.Env(envTypes), expr.AllowUndefinedVariables(), expr.AsBool(),
		expr.Patch(fieldPaths{vars: declared(code)}))
	if err != nil {
		return nil, exprError(err)
	}
	return p, nil
}

// fieldPaths is an expr patcher that turns a chain of members of a field
// (http.status, http["status"]) into one identifier named by the dotted
// path ("http.status"), which bind looks up with event.Get. expr would
// read the members through reflection, allocating; and an absent level
// of the path is then nil, as an absent field is, not an error. meta.key
// becomes the identifier "meta.key" the same way.
// Optional chains (http?.status), method calls and names that are not
// fields are left to expr.
type fieldPaths struct {
	vars map[string]bool // declared with let: not fields
}

func (f fieldPaths) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok || prop.Value == "" || strings.Contains(prop.Value, ".") {
		return
	}
	root, _, _ := strings.Cut(id.Value, ".")
	if f.vars[root] || isBuiltin(root) && id.Value != envMeta {
		return
	}
	ast.Patch(n, &ast.IdentifierNode{Value: id.Value + "." + prop.Value})
}

// declared returns the names code declares with let.
func declared(code string) map[string]bool {
	tree, err := parser.Parse(code)
	if err != nil {
		return nil // Compile reports it
	}
	vars := map[string]bool{}
	ast.Walk(&tree.Node, visitFunc(func(n *ast.Node) {
		if d, ok := (*n).(*ast.VariableDeclaratorNode); ok {
			vars[d.Name] = true
		}
	}))
	return vars
}

// visitFunc is an ast.Visitor.
type visitFunc func(n *ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(n) }

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

// checkCondition returns what Validate reports for an expression that
// does not compile; nil when it does.
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
	refs []envRef
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
		vars := declared(code)
		ast.Walk(&node, visitFunc(func(n *ast.Node) {
			id, ok := (*n).(*ast.IdentifierNode)
			if !ok || vars[id.Value] || seen[id.Value] {
				return
			}
			seen[id.Value] = true
			c.refs = append(c.refs, newEnvRef(id.Value))
			if id.Value == envAll {
				c.all = true
			}
		}))
	}
	c.direct = !slices.ContainsFunc(c.refs, func(r envRef) bool { return r.kind != refField })
	c.pool.New = func() any {
		return &evaluator{c: c, env: make(map[string]any, len(c.refs))}
	}
	return c, nil
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

// envRef is a name an expression mentions, and how bind finds its value.
type envRef struct {
	name string // in the environment
	key  string // of Meta, for refMeta
	kind uint8
}

const (
	refField   = iota // a top-level field
	refPath           // a dotted path (see fieldPaths)
	refMeta           // meta.key (see fieldPaths)
	refBuiltin        // message, meta...
)

func newEnvRef(name string) envRef {
	switch {
	case isBuiltin(name):
		return envRef{name: name, kind: refBuiltin}
	case strings.HasPrefix(name, envMeta+"."):
		return envRef{name: name, key: name[len(envMeta)+1:], kind: refMeta}
	case strings.Contains(name, "."):
		return envRef{name: name, kind: refPath}
	}
	return envRef{name: name, kind: refField}
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
	}
	// A missing field stores nil: the previous event's value must not
	// show through.
	for _, r := range ev.c.refs {
		switch r.kind {
		case refField:
			if !ev.c.all {
				env[r.name] = e.Fields[r.name]
			}
		case refPath:
			env[r.name], _ = e.Get(r.name)
		case refMeta:
			// Boxing the string allocates; most events repeat the
			// last one's value (the same host), which is kept then.
			v := e.Meta[r.key]
			if old, ok := env[r.name].(string); !ok || old != v {
				env[r.name] = v
			}
		case refBuiltin:
			if !ev.c.all {
				env[r.name] = builtin(r.name, e)
			}
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
