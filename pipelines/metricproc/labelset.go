package metricproc

import (
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
)

// labelSet is the labels of one series while the relabel rules run: the
// series' own labels (base, sorted, never written) plus the names deleted
// and the labels set since. It mirrors labels.Builder (stringlabels)
// operation for operation, so the rules see the same labels, in the
// same order, as Prometheus's relabel.ProcessBuilder does, without
// encoding the series' labels into a labels.Labels first. All its
// slices are reused from series to series.
type labelSet struct {
	base []prompb.Label
	del  []string
	add  []labels.Label

	// snapAdd is each's copy of add.
	snapAdd []labels.Label
}

// reset starts on a series; base must be sorted by name. As in
// labels.Builder, a label with an empty value counts as absent.
func (s *labelSet) reset(base []prompb.Label) {
	s.base = base
	s.del = s.del[:0]
	s.add = s.add[:0]
	for i := range base {
		if base[i].Value == "" {
			s.del = append(s.del, base[i].Name)
		}
	}
}

// changed reports whether the labels differ from base.
func (s *labelSet) changed() bool { return len(s.del) > 0 || len(s.add) > 0 }

func (s *labelSet) get(name string) string {
	for i := range s.add {
		if s.add[i].Name == name {
			return s.add[i].Value
		}
	}
	if slices.Contains(s.del, name) {
		return ""
	}
	for i := range s.base {
		if s.base[i].Name == name {
			return s.base[i].Value
		}
	}
	return ""
}

// set sets a label; an empty value deletes it. value must stay valid
// after the call (it ends up in the event).
func (s *labelSet) set(name, value string) {
	if value == "" {
		s.delete(name)
		return
	}
	for i := range s.add {
		if s.add[i].Name == name {
			s.add[i].Value = value
			return
		}
	}
	s.add = append(s.add, labels.Label{Name: name, Value: value})
}

func (s *labelSet) delete(name string) {
	if i := slices.IndexFunc(s.add, func(l labels.Label) bool { return l.Name == name }); i >= 0 {
		s.add = slices.Delete(s.add, i, i+1)
	}
	s.del = append(s.del, name)
}

// each calls f with every label as they are now, in
// labels.Builder.Range's order: base labels not deleted or overridden,
// then the added ones in the order they were added. f may change the
// set; it sees the labels as they were when each began.
func (s *labelSet) each(f func(name, value string)) {
	// del only grows while f runs, so its first ndel names are the
	// deletions before; add can shrink, so it is copied.
	ndel := len(s.del)
	s.snapAdd = append(s.snapAdd[:0], s.add...)
	for i := range s.base {
		l := &s.base[i]
		if slices.Contains(s.del[:ndel], l.Name) || containsName(s.snapAdd, l.Name) {
			continue
		}
		f(l.Name, l.Value)
	}
	for _, l := range s.snapAdd {
		f(l.Name, l.Value)
	}
}

func containsName(ls []labels.Label, name string) bool {
	for i := range ls {
		if ls[i].Name == name {
			return true
		}
	}
	return false
}

// appendResult appends the final labels, sorted by name, to dst: the
// same labels labels.Builder.Labels gives. Base labels are tested for
// deletion by equality (names differ in length more often than not),
// and the few added ones are inserted where they sort.
func (s *labelSet) appendResult(dst []labels.Label) []labels.Label {
	start := len(dst)
	for i := range s.base {
		l := &s.base[i]
		if slices.Contains(s.del, l.Name) || containsName(s.add, l.Name) {
			continue
		}
		dst = append(dst, labels.Label{Name: l.Name, Value: l.Value})
	}
	for _, a := range s.add {
		kept := dst[start:]
		at, _ := slices.BinarySearchFunc(kept, a.Name, func(l labels.Label, name string) int { return strings.Compare(l.Name, name) })
		dst = slices.Insert(dst, start+at, a)
	}
	return dst
}
