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
// events (route's rules; a filter's one condition).
type conditions struct {
	programs []*vm.Program
	// refs are the names the expressions mention, and uses[i] the
	// indexes in refs of those program i mentions: a name is put in the
	// environment when the first program that needs it runs on an event,
	// so route's first match does not pay for the later routes' names.
	refs []envRef
	uses [][]int
	// all is set when an expression uses $env, which needs every field.
	all bool
	// tests[i], when set, is program i as a stringTest, evaluated
	// without the VM.
	tests []*stringTest
	pool  sync.Pool // of *evaluator
}

func newConditions(codes ...string) (*conditions, error) {
	c := &conditions{}
	index := map[string]int{}
	for _, code := range codes {
		p, err := compileCondition(code)
		if err != nil {
			return nil, fmt.Errorf("%q does not compile: %w", code, err)
		}
		c.programs = append(c.programs, p)
		var uses []int
		node := p.Node()
		vars := declared(code)
		ast.Walk(&node, visitFunc(func(n *ast.Node) {
			id, ok := (*n).(*ast.IdentifierNode)
			if !ok || vars[id.Value] {
				return
			}
			j, ok := index[id.Value]
			if !ok {
				j = len(c.refs)
				index[id.Value] = j
				c.refs = append(c.refs, newEnvRef(id.Value))
			}
			if !slices.Contains(uses, j) {
				uses = append(uses, j)
			}
			if id.Value == envAll {
				c.all = true
			}
		}))
		c.uses = append(c.uses, uses)
		t, _ := stringTestOf(node, vars)
		c.tests = append(c.tests, t)
	}
	c.pool.New = func() any {
		return &evaluator{c: c, env: make(map[string]any, len(c.refs)), boundAt: make([]uint64, len(c.refs))}
	}
	return c, nil
}

// get returns an evaluator for one goroutine; put it back when done.
func (c *conditions) get() *evaluator { return c.pool.Get().(*evaluator) }
func (c *conditions) put(ev *evaluator) {
	if ev.c.all {
		clear(ev.env) // do not keep the last event's fields alive
	}
	ev.e = nil
	c.pool.Put(ev)
}

// evaluator holds what evaluating needs per goroutine: the VM (its stack
// is reused) and the environment map.
type evaluator struct {
	c   *conditions
	vm  vm.VM
	env map[string]any
	e   *event.Event // bound
	// gen counts bind calls; boundAt[j] == gen when refs[j] is in env
	// for the bound event.
	gen     uint64
	boundAt []uint64
}

// envRef is a name an expression mentions, and how its value is found.
type envRef struct {
	name string   // in the environment
	key  string   // of Meta, for refMeta
	path []string // name split at dots, for refPath
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
		return envRef{name: name, path: strings.Split(name, "."), kind: refPath}
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
	ev.e = e
	ev.gen++
	if !ev.c.all {
		return
	}
	env := ev.env
	clear(env)
	for k, v := range e.Fields.All() {
		env[k] = v
	}
	for _, name := range [...]string{envMessage, envMeta, envKind, envTimestamp, envFields} {
		env[name] = builtin(name, e)
	}
}

// bindRef puts the bound event's value of r in the environment; a missing
// field stores nil, so that the previous event's value does not show
// through.
func (ev *evaluator) bindRef(r *envRef) {
	e, env := ev.e, ev.env
	switch r.kind {
	case refField:
		if !ev.c.all {
			env[r.name] = e.Fields.Value(r.name)
		}
	case refPath:
		env[r.name] = lookup(&e.Fields, r)
	case refMeta:
		// Boxing the string allocates; most events repeat the last
		// one's value (the same host), which is kept then.
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

// lookup returns the field at r's path, as event.Get does (a top-level
// field named with dots first), nil when absent.
func lookup(fields *event.Fields, r *envRef) any {
	if v, ok := fields.Get(r.name); ok {
		return v
	}
	cur, ok := fields.Get(r.path[0])
	if !ok {
		return nil
	}
	for _, part := range r.path[1:] {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

// builtin returns the value of a name that is not a field.
func builtin(name string, e *event.Event) any {
	switch name {
	case envMessage:
		// The field's interface value is reused as it is: boxing the
		// string again would allocate.
		if v := e.Fields.Value(event.FieldMessage); v != nil {
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
		if e.Fields.Len() == 0 {
			return map[string]any(nil)
		}
		return e.Fields.Map()
	}
	return nil
}

// match runs expression i against the bound event.
func (ev *evaluator) match(i int) (bool, error) {
	if t := ev.c.tests[i]; t != nil {
		return t.match(ev.e), nil
	}
	for _, j := range ev.c.uses[i] {
		if ev.boundAt[j] != ev.gen {
			ev.bindRef(&ev.c.refs[j])
			ev.boundAt[j] = ev.gen
		}
	}
	out, err := ev.vm.Run(ev.c.programs[i], ev.env)
	if err != nil {
		return false, exprError(err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expression returned %T, not bool", out)
	}
	return b, nil
}
