package scrape_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/relabel"

	"github.com/sluicehq/sluice/agent/scrape"
)

func TestValidate(t *testing.T) {
	ok := scrape.Config{Job: "j", Topic: "t", Targets: []string{"h:1"}}
	for _, tc := range []struct {
		name string
		edit func(c *scrape.Config)
		err  string
	}{
		{"ok", func(*scrape.Config) {}, ""},
		{"file_sd only", func(c *scrape.Config) { c.Targets = nil; c.FileSD = []string{"x.json"} }, ""},
		{"no job", func(c *scrape.Config) { c.Job = "" }, "scrape: job is required"},
		{"no topic", func(c *scrape.Config) { c.Topic = "" }, "scrape: topic is required"},
		{"no targets", func(c *scrape.Config) { c.Targets = nil }, "scrape: targets or file_sd is required"},
		{"scheme", func(c *scrape.Config) { c.Scheme = "ftp" }, `scrape: scheme "ftp" is not http or https`},
		{"timeout", func(c *scrape.Config) { c.Interval = time.Second; c.Timeout = 2 * time.Second }, "scrape: timeout 2s is longer than interval 1s"},
		{"short interval", func(c *scrape.Config) { c.Interval = time.Second }, ""},
		{"auth", func(c *scrape.Config) { c.BasicAuth = &scrape.BasicAuth{Username: "u"}; c.BearerToken = "x" }, "scrape: basic_auth and bearer_token are exclusive"},
		{"relabel", func(c *scrape.Config) { c.RelabelConfigs = []*relabel.Config{{Action: relabel.Replace}} }, "scrape: relabel_configs[0]: relabel configuration for replace action requires 'target_label' value"},
		{"metric relabel", func(c *scrape.Config) { c.MetricRelabelConfigs = []*relabel.Config{{}} }, "scrape: metric_relabel_configs[0]: relabel action cannot be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.err == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Validate = %v, want %q", err, tc.err)
			}
		})
	}
}
