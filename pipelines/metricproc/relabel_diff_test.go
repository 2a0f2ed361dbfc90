package metricproc

import (
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/pipelines/event"
)

// diffRules are rules of every action, some of them written to collide
// (two labels mapped to one name, a rule undoing another), for the
// differential test against Prometheus's own relabelling.
var diffRules = []string{
	`{source_labels: [__name__], regex: "a.*|b", action: keep}`,
	`{source_labels: [__name__], regex: "c", action: drop}`,
	`{source_labels: [x, y], regex: "(.*);(.*)", target_label: "z", replacement: "$2-$1"}`,
	`{source_labels: [x, y], separator: "", regex: "(.+)", target_label: "t_${1}", replacement: "$1"}`,
	`{source_labels: [y], regex: "(.*)", target_label: x}`,
	`{source_labels: [x], regex: "v(\\d)", target_label: y, replacement: "w$1"}`,
	`{source_labels: [x], target_label: y, replacement: ""}`,
	`{target_label: k, replacement: const}`,
	`{source_labels: [y], regex: "", target_label: e, replacement: empty}`,
	`{regex: "(x|y)", replacement: "m_$1", action: labelmap}`,
	`{regex: "(.)(.*)", replacement: "q", action: labelmap}`,
	`{regex: "x|k", action: labeldrop}`,
	`{regex: "__name__|y|z|m_.*", action: labelkeep}`,
	`{source_labels: [x, y], modulus: 3, target_label: h, action: hashmod}`,
	`{source_labels: [x, y], target_label: u, action: uppercase}`,
	`{source_labels: [x], target_label: x, action: lowercase}`,
	`{source_labels: [x], target_label: y, action: keepequal}`,
	`{source_labels: [x], target_label: y, action: dropequal}`,
	`{source_labels: [__name__, x], separator: "", regex: "a(.*)", target_label: "__name__", replacement: "b$1"}`,
}

var (
	diffNames  = []string{"__name__", "x", "y", "z", "k", "m_x", "A"}
	diffValues = []string{"", "a", "ab", "b", "c", "v1", "V2", "w1", "a;b"}
)

func parseRules(t testing.TB, idx []int) []*relabel.Config {
	t.Helper()
	out := make([]*relabel.Config, 0, len(idx))
	for _, i := range idx {
		rc := new(relabel.Config)
		if err := yaml.Unmarshal([]byte(diffRules[i]), rc); err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		if err := rc.Validate(nameValidation); err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		out = append(out, rc)
	}
	return out
}

// prometheusRelabel is what Prometheus computes for one series: its
// labels, or ok false when the series is dropped.
func prometheusRelabel(rules []*relabel.Config, in []prompb.Label) (string, bool) {
	sb := labels.NewScratchBuilder(len(in))
	for _, l := range in {
		sb.Add(l.Name, l.Value)
	}
	sb.Sort()
	lb := labels.NewBuilder(sb.Labels())
	if !relabel.ProcessBuilder(lb, rules...) {
		return "", false
	}
	res := lb.Labels()
	if res.IsEmpty() {
		return "", false
	}
	return res.String(), true
}

// ours is what the processor computes for the same series.
func ours(t testing.TB, r *Relabel, in []prompb.Label) (string, bool) {
	t.Helper()
	e := &event.Event{Kind: event.KindMetric, Series: []prompb.TimeSeries{{Labels: append([]prompb.Label(nil), in...)}}}
	out := r.Process([]*event.Event{e})
	if len(out) == 0 {
		return "", false
	}
	sb := labels.NewScratchBuilder(0)
	for _, l := range out[0].Series[0].Labels {
		sb.Add(l.Name, l.Value)
	}
	return sb.Labels().String(), true
}

// checkSame relabels in with the rules chosen by idx both ways.
func checkSame(t testing.TB, idx []int, in []prompb.Label) {
	t.Helper()
	rules := parseRules(t, idx)
	r, err := NewRelabel(RelabelConfig{Configs: rules}, testSettings("diff"))
	if err != nil {
		t.Fatal(err)
	}
	want, wantOK := prometheusRelabel(rules, in)
	// Twice: the second run goes through the replace memo.
	for range 2 {
		got, gotOK := ours(t, r, in)
		if got != want || gotOK != wantOK {
			var texts []string
			for _, i := range idx {
				texts = append(texts, diffRules[i])
			}
			t.Fatalf("rules %q on %v:\n got %s (kept %v)\nwant %s (kept %v)", texts, in, got, gotOK, want, wantOK)
		}
	}
}

// TestRelabelMatchesPrometheus runs random chains of rules over random
// label sets and compares the result with relabel.ProcessBuilder's.
func TestRelabelMatchesPrometheus(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		idx := make([]int, 1+rng.IntN(4))
		for j := range idx {
			idx[j] = rng.IntN(len(diffRules))
		}
		checkSame(t, idx, randomLabels(rng.IntN))
	}
}

func randomLabels(intn func(int) int) []prompb.Label {
	var in []prompb.Label
	for _, n := range diffNames {
		if intn(3) > 0 {
			in = append(in, prompb.Label{Name: n, Value: diffValues[intn(len(diffValues))]})
		}
	}
	return in
}

// FuzzRelabelMatchesPrometheus is the differential test driven by the
// fuzzer: the bytes choose the rules and the labels.
func FuzzRelabelMatchesPrometheus(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{9, 9, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{17, 2, 12, 18, 3, 3, 3, 3, 3, 3, 3, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		pos := 0
		next := func(n int) int {
			if pos >= len(data) {
				return 0
			}
			pos++
			return int(data[pos-1]) % n
		}
		idx := make([]int, 1+next(4))
		for j := range idx {
			idx[j] = next(len(diffRules))
		}
		checkSame(t, idx, randomLabels(next))
	})
}
