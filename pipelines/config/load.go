package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a place in a configuration file.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is one problem in a configuration file.
type Error struct {
	Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors is every problem found in a file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// FieldError is a validation problem of the value at Path, a dotted path
// of YAML keys ("broker.retention.max_age", "collector.sinks.vm.url").
type FieldError struct {
	Path string
	Msg  string
}

// File is a whole configuration file.
type File struct {
	Broker    *Broker    `yaml:"broker"`
	Agent     *Agent     `yaml:"agent"`
	Collector *Collector `yaml:"collector"`

	name      string
	positions map[string]Pos
}

// Name is the file name errors are reported against.
func (f *File) Name() string { return f.name }

// PosOf returns where the value at a dotted path is, or of its closest
// ancestor that appears in the file.
func (f *File) PosOf(path string) Pos {
	for p := path; ; {
		if pos, ok := f.positions[p]; ok {
			return pos
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return Pos{File: f.name, Line: 1, Col: 1}
		}
		p = p[:i]
	}
}

// Load reads and checks a configuration file. The collector section's
// processors and sinks are checked only by LoadWith.
func Load(path string) (*File, error) { return LoadWith(path, nil) }

// LoadWith reads and checks a configuration file, the collector's
// processors and sinks against comps.
func LoadWith(path string, comps *Components) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseWith(path, data, comps)
}

// Parse checks a configuration held in data; name is used in errors. An
// empty document is a valid configuration with every section absent.
func Parse(name string, data []byte) (*File, error) { return ParseWith(name, data, nil) }

// ParseWith is Parse that also checks the collector's processors and sinks
// against comps (nil: their bodies are not checked and their Config stays nil).
func ParseWith(name string, data []byte, comps *Components) (*File, error) {
	f := &File{name: name, positions: map[string]Pos{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, err)
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case err == nil:
		return nil, Errors{{Pos{name, max(more.Line, 1), max(more.Column, 1)}, "a config file holds one YAML document"}}
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(name, err)
	}
	if doc.Kind == 0 {
		return f, nil
	}
	root := doc.Content[0]
	w := walker{file: name, positions: f.positions, comps: comps}
	w.expandEnv(root)
	w.check(root, typeOf(f), "")
	if len(w.errs) == 0 {
		if err := root.Decode(f); err != nil {
			w.add(root, "decode: %v", err)
		}
	}
	if len(w.errs) == 0 {
		for _, fe := range f.validate(comps) {
			w.errs = append(w.errs, &Error{f.PosOf(fe.Path), fe.Msg})
		}
	}
	if len(w.errs) > 0 {
		sort.SliceStable(w.errs, func(i, j int) bool {
			a, b := w.errs[i], w.errs[j]
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		return nil, w.errs
	}
	return f, nil
}

// syntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into an
// Error with a position.
func syntaxError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		var n int
		if _, err := fmt.Sscanf(rest, "%d:", &n); err == nil {
			line = n
			msg = strings.TrimSpace(rest[strings.IndexByte(rest, ':')+1:])
		}
	}
	return Errors{{Pos{name, line, 1}, msg}}
}

func (f *File) validate(comps *Components) []FieldError {
	var errs []FieldError
	if f.Collector != nil {
		errs = append(errs, f.Collector.Validate("collector")...)
		if comps != nil {
			errs = append(errs, f.Collector.decodeComponents(comps, "collector")...)
		}
	}
	if f.Broker != nil {
		errs = append(errs, f.Broker.Validate("broker")...)
	}
	if f.Agent != nil {
		errs = append(errs, f.Agent.Validate("agent")...)
	}
	return errs
}
