package config

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// walker checks a YAML tree against the Go type it will be decoded into,
// before decoding, so that every error gets the line and column of the
// node that caused it (yaml.v3's own errors have lines only) and so that
// all errors are found in one pass.
type walker struct {
	file      string
	positions map[string]Pos
	errs      Errors
	// comps, when not nil, has the collector's processor and sink types.
	comps *Components
	// extraKnown is a struct whose keys are also allowed in the mapping
	// being checked (a sink's common keys beside its own).
	extraKnown reflect.Type
}

func (w *walker) add(n *yaml.Node, format string, args ...any) {
	w.errs = append(w.errs, &Error{Pos{w.file, n.Line, n.Column}, fmt.Sprintf(format, args...)})
}

var (
	nodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	// v2Unmarshaler is yaml.v2's interface, which yaml.v3 still honours
	// and Prometheus's types (relabel.Config, relabel.Regexp) implement.
	v2Unmarshaler = reflect.TypeFor[interface {
		UnmarshalYAML(unmarshal func(any) error) error
	}]()
)

func typeOf(v any) reflect.Type { return reflect.TypeOf(v) }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// check reports every way n cannot be decoded into a value of type t.
func (w *walker) check(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		w.positions[path] = Pos{w.file, n.Line, n.Column}
	}
	if t == nodeType || isNull(n) {
		return
	}
	if t.Kind() == reflect.Pointer {
		w.check(n, t.Elem(), path)
		return
	}
	if w.comps != nil && t == processorType {
		w.checkProcessor(n, path)
		return
	}
	if w.comps != nil && t == sinkType {
		w.checkSink(n, path)
		return
	}
	if pt := reflect.PointerTo(t); pt.Implements(unmarshalerType) || pt.Implements(v2Unmarshaler) {
		// The type decodes itself (Duration, Size, or a library's type
		// such as relabel.Config): let it say what is wrong.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.add(n, "%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		// Such types decode without KnownFields: check their keys here.
		if t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode {
			if fields := yamlFields(t); len(fields) > 0 {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if k := n.Content[i]; fields[k.Value] == nil {
						w.add(k, "unknown key %q in %s (known: %s)", k.Value, where(path), known(fields, nil))
					}
				}
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.checkStruct(n, t, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.add(n, "%s: want a mapping, got %s", path, kindName(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				w.add(k, "%s: key %q repeated", path, k.Value)
			}
			seen[k.Value] = true
			w.check(v, t.Elem(), join(path, k.Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.add(n, "%s: want a list, got %s", path, kindName(n))
			return
		}
		for i, v := range n.Content {
			w.check(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		w.checkScalar(n, t, path)
	}
}

func (w *walker) checkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.add(n, "%s: want a mapping, got %s", path, kindName(n))
		return
	}
	fields := yamlFields(t)
	var extra map[string]reflect.Type
	if w.extraKnown != nil {
		extra = yamlFields(w.extraKnown)
		w.extraKnown = nil // for this mapping only, not the ones inside it
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ft, ok := fields[k.Value]
		switch {
		case !ok:
			w.add(k, "unknown key %q in %s (known: %s)", k.Value, where(path), known(fields, extra))
		case seen[k.Value]:
			w.add(k, "%s: key %q repeated", where(path), k.Value)
		default:
			w.check(v, ft, join(path, k.Value))
		}
		seen[k.Value] = true
	}
}

func where(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// yamlFields maps the yaml keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && opts == "inline" && f.Type.Kind() == reflect.Struct {
			maps.Copy(fields, yamlFields(f.Type))
			continue
		}
		if f.IsExported() && name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	return fields
}

func known(fields, extra map[string]reflect.Type) string {
	names := make([]string, 0, len(fields)+len(extra))
	for n := range fields {
		names = append(names, n)
	}
	for n := range extra {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (w *walker) checkScalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.add(n, "%s: want a single value, got %s", path, kindName(n))
		return
	}
	var err error
	switch t.Kind() {
	case reflect.Bool:
		if n.ShortTag() != "!!bool" {
			err = fmt.Errorf("want true or false, got %q", n.Value)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, e := strconv.ParseInt(n.Value, 0, t.Bits()); e != nil {
			err = fmt.Errorf("want an integer, got %q", n.Value)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, e := strconv.ParseUint(n.Value, 0, t.Bits()); e != nil {
			err = fmt.Errorf("want a non-negative integer, got %q", n.Value)
		}
	case reflect.Float32, reflect.Float64:
		if _, e := strconv.ParseFloat(n.Value, 64); e != nil {
			err = fmt.Errorf("want a number, got %q", n.Value)
		}
	}
	if err != nil {
		w.add(n, "%s: %v", path, err)
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar. An
// expanded plain scalar is typed again from its new text, so "${PORT}"
// can fill an integer.
func (w *walker) expandEnv(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if v, ok := os.LookupEnv(m[1]); ok {
				return v
			}
			if m[2] != "" {
				return m[3]
			}
			w.add(n, "environment variable %s is not set (use ${%s:-default} for a default)", m[1], m[1])
			return ref
		})
		if n.Style == 0 {
			n.Tag = ""
		}
	}
	for _, c := range n.Content {
		w.expandEnv(c)
	}
}
