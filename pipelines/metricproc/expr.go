package metricproc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/sluicehq/sluice/pipelines/event"
)

// Names of a condition's environment that are not fields.
const (
	envMessage = "message"
	envMeta    = "meta"
	envKind    = "kind"
)

// envTypes types the names that are not fields, so that `kind > 3` is
// refused when the config is checked; fields are undeclared (any type,
// nil when absent).
var envTypes = map[string]any{
	envMessage: "",
	envMeta:    map[string]string{},
	envKind:    "",
}

// Boxed once, so binding them allocates nothing.
var (
	kindLog  any = event.KindLog.String()
	emptyStr any = ""
)

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

// condition is a compiled condition with the names it reads, so that
// binding an event sets only those.
type condition struct {
	program *vm.Program
	refs    []string
}

func newCondition(code string) (*condition, error) {
	p, err := compileCondition(code)
	if err != nil {
		return nil, err
	}
	c := &condition{program: p}
	seen := map[string]bool{}
	node := p.Node()
	ast.Walk(&node, identifiers(func(name string) {
		if !seen[name] {
			seen[name] = true
			c.refs = append(c.refs, name)
		}
	}))
	return c, nil
}

// identifiers is an ast.Visitor calling itself with each identifier.
type identifiers func(name string)

func (f identifiers) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		f(id.Value)
	}
}

// eval runs c on e with env, a map reused from event to event, and vm.
func (c *condition) eval(m *vm.VM, env map[string]any, e *event.Event) (bool, error) {
	for _, name := range c.refs {
		switch name {
		case envMessage:
			// The field's interface value is reused: boxing the string
			// again would allocate.
			v := e.Fields.Value(event.FieldMessage)
			if _, ok := v.(string); !ok {
				v = emptyStr
			}
			env[name] = v
		case envMeta:
			env[name] = e.Meta
		case envKind:
			env[name] = kindLog
		default:
			// A missing field stores nil: the previous event's value
			// must not show through.
			env[name] = e.Fields.Value(name)
		}
	}
	out, err := m.Run(c.program, env)
	if err != nil {
		return false, exprError(err)
	}
	b, _ := out.(bool) // AsBool made sure
	return b, nil
}

// number returns a field value as a float: numbers, and strings that
// hold one.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}
