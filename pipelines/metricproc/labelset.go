package metricproc

import (
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/pipelines/event"
)

// labelSet is the labels of one series while the relabel rules run: the
// series' own labels (base, sorted, never written), which of them are
// gone (deleted, or overridden by a label set since), and the labels set
// since (add, in the order they were first set). It behaves as
// labels.Builder (stringlabels) does, operation for operation, so the
// rules see the same labels, in the same order, as Prometheus's
// relabel.ProcessBuilder does, without encoding the series' labels into
// a labels.Labels first. Builder keeps the deleted names in a list that
// every lookup scans; a flag per base label does the same work (a name
// deleted that is in neither base nor add changes nothing). All its
// slices are reused from series to series.
type labelSet struct {
	base []prompb.Label
	gone []bool // per base label
	add  []labels.Label
	// anyGone tells whether a base label is gone.
	anyGone bool

	// snapAdd and snapGone are each's copies.
	snapAdd  []labels.Label
	snapGone []bool
}

// reset starts on a series and reports whether its labels are sorted
// by name, which the other methods need. As in labels.Builder, a label
// with an empty value counts as absent.
func (s *labelSet) reset(base []prompb.Label) (sorted bool) {
	s.base = base
	s.add = s.add[:0]
	s.anyGone = false
	s.gone = slices.Grow(s.gone[:0], len(base))[:len(base)]
	sorted = true
	for i := range base {
		s.gone[i] = base[i].Value == ""
		s.anyGone = s.anyGone || s.gone[i]
		if i > 0 && event.LabelNameLess(base[i].Name, base[i-1].Name) {
			sorted = false
		}
	}
	return sorted
}

// changed reports whether the labels differ from base.
func (s *labelSet) changed() bool { return s.anyGone || len(s.add) > 0 }

// baseIndex returns the index of name in base, or -1.
func (s *labelSet) baseIndex(name string) int {
	for i := range s.base {
		if s.base[i].Name == name {
			return i
		}
	}
	return -1
}

func (s *labelSet) get(name string) string {
	for i := range s.add {
		if s.add[i].Name == name {
			return s.add[i].Value
		}
	}
	if i := s.baseIndex(name); i >= 0 && !s.gone[i] {
		return s.base[i].Value
	}
	return ""
}

// markGone marks name's base label, if any, as gone.
func (s *labelSet) markGone(name string) {
	if i := s.baseIndex(name); i >= 0 {
		s.gone[i] = true
		s.anyGone = true
	}
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
	s.markGone(name)
}

func (s *labelSet) delete(name string) {
	if i := slices.IndexFunc(s.add, func(l labels.Label) bool { return l.Name == name }); i >= 0 {
		s.add = slices.Delete(s.add, i, i+1)
	}
	s.markGone(name)
}

// deleteWhere deletes every label whose name match reports as drop:
// labeldrop (drop true) and labelkeep (drop false). Which labels go
// depends on each one's name alone, so this is what Prometheus's
// Range-and-Del does, without the snapshot each takes.
func (s *labelSet) deleteWhere(match func(string) bool, drop bool) {
	for i := range s.base {
		if !s.gone[i] && match(s.base[i].Name) == drop {
			s.gone[i] = true
			s.anyGone = true
		}
	}
	s.add = slices.DeleteFunc(s.add, func(l labels.Label) bool { return match(l.Name) == drop })
}

// each calls f with every label as they are now, in
// labels.Builder.Range's order: base labels not deleted or overridden,
// then the added ones in the order they were added. f may change the
// set; it sees the labels as they were when each began.
func (s *labelSet) each(f func(name, value string)) {
	s.snapAdd = append(s.snapAdd[:0], s.add...)
	s.snapGone = append(s.snapGone[:0], s.gone...)
	for i := range s.base {
		if !s.snapGone[i] {
			f(s.base[i].Name, s.base[i].Value)
		}
	}
	for _, l := range s.snapAdd {
		f(l.Name, l.Value)
	}
}

// appendResult appends the final labels, sorted by name, to dst: the
// same labels labels.Builder.Labels gives. The few added labels are
// merged in where they sort.
func (s *labelSet) appendResult(dst []prompb.Label) []prompb.Label {
	add := s.add
	if len(add) > 1 {
		slices.SortFunc(add, func(a, b labels.Label) int { return strings.Compare(a.Name, b.Name) })
	}
	for i := range s.base {
		if s.gone[i] {
			continue
		}
		name := s.base[i].Name
		for len(add) > 0 && event.LabelNameLess(add[0].Name, name) {
			dst = appendLabel(dst, add[0].Name, add[0].Value)
			add = add[1:]
		}
		dst = appendLabel(dst, name, s.base[i].Value)
	}
	for _, a := range add {
		dst = appendLabel(dst, a.Name, a.Value)
	}
	return dst
}

// appendLabel appends a label to dst, a scratch slice whose other fields
// are never set: only the name and the value are written, not the whole
// 64 bytes of a prompb.Label.
func appendLabel(dst []prompb.Label, name, value string) []prompb.Label {
	if len(dst) == cap(dst) {
		dst = append(dst, prompb.Label{})
	} else {
		dst = dst[:len(dst)+1]
	}
	l := &dst[len(dst)-1]
	l.Name, l.Value = name, value
	return dst
}
