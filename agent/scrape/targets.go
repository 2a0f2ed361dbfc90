package scrape

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"
)

// TargetGroup is one entry of a file_sd file.
type TargetGroup struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// ParseFileSD decodes a file_sd file: a JSON or YAML list of target
// groups. Every target must be non-empty and every label name valid.
func ParseFileSD(b []byte) ([]TargetGroup, error) {
	var groups []TargetGroup
	if err := yaml.Unmarshal(b, &groups); err != nil {
		return nil, fmt.Errorf("decode file_sd: %w", err)
	}
	for i, g := range groups {
		for _, t := range g.Targets {
			if t == "" {
				return nil, fmt.Errorf("file_sd group %d: empty target", i)
			}
		}
		for n := range g.Labels {
			if !model.UTF8Validation.IsValidLabelName(n) {
				return nil, fmt.Errorf("file_sd group %d: invalid label name %q", i, n)
			}
		}
	}
	return groups, nil
}

// fileSD remembers each file's groups and mtime, so a file is decoded
// again only when it changed.
type fileSD struct {
	files map[string]fileState
}

type fileState struct {
	mtime  time.Time
	size   int64
	groups []TargetGroup
}

// groups returns the groups of every file. A file that cannot be read or
// decoded keeps its last good groups (so a half-written file does not
// drop its targets), and its error is returned alongside.
func (f *fileSD) groups(paths []string) ([]TargetGroup, error) {
	if f.files == nil {
		f.files = make(map[string]fileState)
	}
	var all []TargetGroup
	var errs []error
	for _, p := range paths {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			delete(f.files, p)
			continue
		}
		old, seen := f.files[p]
		if err == nil && (!seen || !st.ModTime().Equal(old.mtime) || st.Size() != old.size) {
			var b []byte
			b, err = os.ReadFile(p)
			var gs []TargetGroup
			if err == nil {
				gs, err = ParseFileSD(b)
			}
			if err == nil {
				old = fileState{mtime: st.ModTime(), size: st.Size(), groups: gs}
				f.files[p] = old
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("file_sd %s: %w", p, err))
		}
		all = append(all, old.groups...)
	}
	return all, errors.Join(errs...)
}

// target is one endpoint to scrape, after target relabeling.
type target struct {
	labels labels.Labels // final target labels: job, instance, group labels
	url    string
	key    string // job + "/" + instance: the record key
	id     string // identity in the target set: url + labels
}

// buildTarget applies target relabeling to addr and its group labels, as
// Prometheus does; ok is false if relabeling dropped the target.
func (c *Config) buildTarget(addr string, groupLabels map[string]string, rcs []*relabel.Config) (target, bool, error) {
	lb := labels.NewBuilder(labels.EmptyLabels())
	for n, v := range groupLabels {
		lb.Set(n, v)
	}
	lb.Set(model.AddressLabel, addr)
	lb.Set(model.JobLabel, c.Job)
	lb.Set(model.SchemeLabel, c.Scheme)
	lb.Set(model.MetricsPathLabel, c.MetricsPath)
	lb.Set(model.ScrapeIntervalLabel, model.Duration(c.Interval).String())
	lb.Set(model.ScrapeTimeoutLabel, model.Duration(c.Timeout).String())
	for k, vs := range c.Params {
		if len(vs) > 0 && lb.Get(model.ParamLabelPrefix+k) == "" {
			lb.Set(model.ParamLabelPrefix+k, vs[0])
		}
	}
	if !relabel.ProcessBuilder(lb, rcs...) {
		return target{}, false, nil
	}
	addr = lb.Get(model.AddressLabel)
	if addr == "" {
		return target{}, false, errors.New("target has no __address__ after relabeling")
	}
	if strings.Contains(addr, "/") {
		return target{}, false, fmt.Errorf("target address %q contains a path", addr)
	}
	if lb.Get(model.InstanceLabel) == "" {
		lb.Set(model.InstanceLabel, addr)
	}
	u := c.targetURL(lb, addr)
	final := labels.NewBuilder(labels.EmptyLabels())
	lb.Range(func(l labels.Label) {
		if !strings.HasPrefix(l.Name, model.ReservedLabelPrefix) && l.Value != "" {
			final.Set(l.Name, l.Value)
		}
	})
	ls := final.Labels()
	t := target{labels: ls, url: u, key: ls.Get(model.JobLabel) + "/" + ls.Get(model.InstanceLabel)}
	t.id = u + "\xff" + ls.String()
	return t, true, nil
}

func (c *Config) targetURL(lb *labels.Builder, addr string) string {
	params := url.Values{}
	for k, vs := range c.Params {
		params[k] = append([]string(nil), vs...)
	}
	lb.Range(func(l labels.Label) {
		if name, ok := strings.CutPrefix(l.Name, model.ParamLabelPrefix); ok {
			if len(params[name]) == 0 {
				params[name] = []string{l.Value}
			} else {
				params[name][0] = l.Value
			}
		}
	})
	u := url.URL{Scheme: lb.Get(model.SchemeLabel), Host: addr, Path: lb.Get(model.MetricsPathLabel), RawQuery: params.Encode()}
	return u.String()
}
