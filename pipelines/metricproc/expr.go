package metricproc

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

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
			v := e.Fields[event.FieldMessage]
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
			env[name] = e.Fields[name]
		}
	}
	out, err := m.Run(c.program, env)
	if err != nil {
		return false, exprError(err)
	}
	b, _ := out.(bool) // AsBool made sure
	return b, nil
}

// template is a label value: literal text with {{ path }} and
// {{ meta.key }} references, parsed once.
type template struct {
	parts []templatePart
}

type templatePart struct {
	lit  string
	ref  string // "" for literal text
	meta bool   // ref is a meta key, not a field path
}

// parseTemplate parses s. "{{" opens a reference that "}}" closes.
func parseTemplate(s string) (*template, error) {
	t := &template{}
	for s != "" {
		open := strings.Index(s, "{{")
		if open < 0 {
			t.parts = append(t.parts, templatePart{lit: s})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, templatePart{lit: s[:open]})
		}
		rest := s[open+2:]
		end := strings.Index(rest, "}}")
		if end < 0 {
			return nil, errors.New(`"{{" is not closed by "}}"`)
		}
		ref := strings.TrimSpace(rest[:end])
		if ref == "" || strings.ContainsAny(ref, "{} \t") {
			return nil, fmt.Errorf("{{%s}} is not a reference: want {{ field.path }} or {{ meta.key }}", rest[:end])
		}
		part := templatePart{ref: ref}
		if key, ok := strings.CutPrefix(ref, "meta."); ok {
			if key == "" {
				return nil, errors.New("{{ meta. }} names no meta key: want e.g. {{ meta.host }}")
			}
			part.ref, part.meta = key, true
		}
		t.parts = append(t.parts, part)
		s = rest[end+2:]
	}
	return t, nil
}

// appendTo appends the template expanded for e to dst; an absent field
// or meta key expands to nothing.
func (t *template) appendTo(dst []byte, e *event.Event) []byte {
	for _, p := range t.parts {
		switch {
		case p.ref == "":
			dst = append(dst, p.lit...)
		case p.meta:
			dst = append(dst, e.Meta[p.ref]...)
		default:
			if v, ok := e.Get(p.ref); ok {
				dst = appendText(dst, v)
			}
		}
	}
	return dst
}

// appendText appends v as event.Format writes it, without allocating
// for the common types.
func appendText(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(dst, x...)
	case float64:
		// JSON numbers are floats; most that become labels are whole
		// (status codes), and formatting those as integers is faster.
		if x == math.Trunc(x) && math.Abs(x) < 1e15 && (x != 0 || !math.Signbit(x)) {
			return strconv.AppendInt(dst, int64(x), 10)
		}
		return strconv.AppendFloat(dst, x, 'f', -1, 64)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case bool:
		return strconv.AppendBool(dst, x)
	case time.Time:
		return x.AppendFormat(dst, time.RFC3339Nano)
	case nil:
		return dst
	}
	return append(dst, event.Format(v)...)
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
