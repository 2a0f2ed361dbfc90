package transform

import (
	"github.com/expr-lang/expr/ast"

	"github.com/sluicehq/sluice/pipelines/event"
)

// stringTest is a condition of the form name == "text" or name != "text"
// (either way round), the most common filter and route, evaluated
// without expr's VM: the value of name, from the event as bindRef reads
// it, equals the text as expr's == says (a string of those bytes;
// anything else, nil included, is not equal).
type stringTest struct {
	ref  envRef
	text string
	not  bool // !=
}

// stringTestOf returns the stringTest a compiled condition's tree is, if
// it is one.
func stringTestOf(node ast.Node, vars map[string]bool) (*stringTest, bool) {
	b, ok := node.(*ast.BinaryNode)
	if !ok || (b.Operator != "==" && b.Operator != "!=") {
		return nil, false
	}
	id, okL := b.Left.(*ast.IdentifierNode)
	lit, okR := b.Right.(*ast.StringNode)
	if !okL || !okR {
		id, okL = b.Right.(*ast.IdentifierNode)
		lit, okR = b.Left.(*ast.StringNode)
	}
	if !okL || !okR || vars[id.Value] {
		return nil, false
	}
	ref := newEnvRef(id.Value)
	if ref.kind == refBuiltin && ref.name != envMessage {
		return nil, false
	}
	return &stringTest{ref: ref, text: lit.Value, not: b.Operator == "!="}, true
}

// match evaluates the test on e.
func (t *stringTest) match(e *event.Event) bool {
	var v any
	switch t.ref.kind {
	case refField:
		v = e.Fields.Value(t.ref.name)
	case refPath:
		v = lookup(&e.Fields, &t.ref)
	case refMeta:
		v = e.Meta[t.ref.key]
	default: // message
		v = builtin(envMessage, e)
	}
	s, ok := v.(string)
	return (ok && s == t.text) != t.not
}
