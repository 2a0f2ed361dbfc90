package transform

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/pipelines/component"
	"github.com/sluicehq/sluice/pipelines/event"
)

// SetConfig is the set processor: it sets fields and meta keys of log
// events from templates.
type SetConfig struct {
	// Fields maps a dotted field path ("http.status") to its value: text
	// with {{ path }} and {{ meta.key }} expanded per event. A value that
	// is exactly one {{ path }} copies that field with its type. Maps on
	// the way are made. Every value is expanded against the event as it
	// was before this processor, so the order of the keys does not matter.
	Fields map[string]string `yaml:"fields"`
	// Meta maps a meta key to its value, a template as in Fields.
	Meta map[string]string `yaml:"meta"`
}

// Validate checks the paths and templates.
func (c *SetConfig) Validate() error {
	var errs []error
	if len(c.Fields) == 0 && len(c.Meta) == 0 {
		errs = append(errs, component.Errorf("fields", "nothing to set: name at least one field or meta key"))
	}
	for _, path := range slices.Sorted(maps.Keys(c.Fields)) {
		if err := checkPath(path); err != nil {
			errs = append(errs, component.Errorf("fields", "%v", err))
			continue
		}
		if _, err := parseTemplate(c.Fields[path]); err != nil {
			errs = append(errs, component.Errorf("fields."+path, "%q: %v", c.Fields[path], err))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(c.Meta)) {
		if key == "" {
			errs = append(errs, component.Errorf("meta", "empty meta key"))
			continue
		}
		if _, err := parseTemplate(c.Meta[key]); err != nil {
			errs = append(errs, component.Errorf("meta."+key, "%q: %v", c.Meta[key], err))
		}
	}
	return errors.Join(errs...)
}

// Set is the set processor.
type Set struct {
	fields []setField
	meta   []setField
}

type setField struct {
	key  string
	tmpl *template
}

// NewSet returns a set processor.
func NewSet(cfg SetConfig, _ component.Settings) (*Set, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Set{}
	for _, path := range slices.Sorted(maps.Keys(cfg.Fields)) {
		t, _ := parseTemplate(cfg.Fields[path])
		s.fields = append(s.fields, setField{path, t})
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.Meta)) {
		t, _ := parseTemplate(cfg.Meta[key])
		s.meta = append(s.meta, setField{key, t})
	}
	return s, nil
}

// Process sets the fields and meta keys of log events.
func (s *Set) Process(events []*event.Event) []*event.Event {
	fields := make([]any, len(s.fields))
	meta := make([]string, len(s.meta))
	var buf []byte
	for _, e := range events {
		if e.Kind != event.KindLog {
			continue
		}
		for i, f := range s.fields {
			fields[i], buf = s.value(f.tmpl, e, buf)
		}
		for i, m := range s.meta {
			if c, ok := m.tmpl.constant(); ok {
				meta[i] = c
				continue
			}
			buf = m.tmpl.append(buf[:0], e)
			meta[i] = string(buf)
		}
		for i, f := range s.fields {
			e.Set(f.key, fields[i])
		}
		if len(s.meta) > 0 && e.Meta == nil {
			e.Meta = make(map[string]string, len(s.meta))
		}
		for i, m := range s.meta {
			e.Meta[m.key] = meta[i]
		}
	}
	return events
}

// value returns a field's new value; buf is scratch space.
func (s *Set) value(t *template, e *event.Event, buf []byte) (any, []byte) {
	if c, ok := t.constant(); ok {
		return c, buf
	}
	if path, ok := t.field(); ok {
		if v, ok := e.Get(path); ok {
			return event.CloneValue(v), buf // a copy: the original may change later
		}
		return "", buf
	}
	buf = t.append(buf[:0], e)
	return string(buf), buf
}

// RenameConfig is the rename processor: it moves fields of log events.
type RenameConfig struct {
	// Fields maps an old dotted path to a new one. All fields are taken
	// out first and then put at their new paths, so a: b, b: a swaps
	// them. A field that is absent is not renamed (its new path is left
	// as it is); one that is present replaces what was at its new path.
	Fields map[string]string `yaml:"fields"`
}

// Validate checks the paths.
func (c *RenameConfig) Validate() error {
	var errs []error
	if len(c.Fields) == 0 {
		errs = append(errs, component.Errorf("fields", "nothing to rename: map at least one old path to a new one"))
	}
	targets := map[string]string{}
	for _, from := range slices.Sorted(maps.Keys(c.Fields)) {
		to := c.Fields[from]
		if err := checkPath(from); err != nil {
			errs = append(errs, component.Errorf("fields", "%v", err))
			continue
		}
		if err := checkPath(to); err != nil {
			errs = append(errs, component.Errorf("fields."+from, "%v", err))
			continue
		}
		if to == from {
			errs = append(errs, component.Errorf("fields."+from, "renames %q to itself", from))
		}
		if other, ok := targets[to]; ok {
			errs = append(errs, component.Errorf("fields."+from, "renames to %q, as %s does: want one field per new path", to, other))
		}
		targets[to] = from
	}
	return errors.Join(errs...)
}

// Rename is the rename processor.
type Rename struct {
	from, to []string
}

// NewRename returns a rename processor.
func NewRename(cfg RenameConfig, _ component.Settings) (*Rename, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Rename{}
	for _, from := range slices.Sorted(maps.Keys(cfg.Fields)) {
		r.from = append(r.from, from)
		r.to = append(r.to, cfg.Fields[from])
	}
	return r, nil
}

// Process renames the fields of log events.
func (r *Rename) Process(events []*event.Event) []*event.Event {
	values := make([]any, len(r.from))
	found := make([]bool, len(r.from))
	for _, e := range events {
		if e.Kind != event.KindLog {
			continue
		}
		for i, from := range r.from {
			values[i], found[i] = e.Delete(from)
		}
		for i, to := range r.to {
			if found[i] {
				e.Set(to, values[i])
				values[i] = nil
			}
		}
	}
	return events
}

// RemoveConfig is the remove processor: it deletes fields and meta keys
// of log events.
type RemoveConfig struct {
	// Fields are dotted paths of the fields to delete; absent ones are
	// skipped.
	Fields []string `yaml:"fields"`
	// Meta are the meta keys to delete.
	Meta []string `yaml:"meta"`
}

// Validate checks the paths.
func (c *RemoveConfig) Validate() error {
	var errs []error
	if len(c.Fields) == 0 && len(c.Meta) == 0 {
		errs = append(errs, component.Errorf("fields", "nothing to remove: name at least one field or meta key"))
	}
	for i, path := range c.Fields {
		if err := checkPath(path); err != nil {
			errs = append(errs, component.Errorf(fmt.Sprintf("fields[%d]", i), "%v", err))
		}
	}
	for i, key := range c.Meta {
		if key == "" {
			errs = append(errs, component.Errorf(fmt.Sprintf("meta[%d]", i), "empty meta key"))
		}
	}
	return errors.Join(errs...)
}

// Remove is the remove processor.
type Remove struct {
	fields, meta []string
}

// NewRemove returns a remove processor.
func NewRemove(cfg RemoveConfig, _ component.Settings) (*Remove, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Remove{fields: slices.Clone(cfg.Fields), meta: slices.Clone(cfg.Meta)}, nil
}

// Process deletes the fields and meta keys of log events.
func (r *Remove) Process(events []*event.Event) []*event.Event {
	for _, e := range events {
		if e.Kind != event.KindLog {
			continue
		}
		for _, path := range r.fields {
			e.Delete(path)
		}
		for _, key := range r.meta {
			delete(e.Meta, key)
		}
	}
	return events
}

// checkPath checks a dotted field path.
func checkPath(path string) error {
	if path == "" {
		return errors.New("empty field path")
	}
	if slices.Contains(strings.Split(path, "."), "") {
		return fmt.Errorf("field path %q has an empty part: want names joined by single dots (http.status)", path)
	}
	return nil
}
