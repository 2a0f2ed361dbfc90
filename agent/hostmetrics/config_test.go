package hostmetrics

import (
	"os"
	"slices"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"minimal", Config{Topic: "metrics"}, ""},
		{"full", Config{Topic: "m", Interval: time.Minute, Collectors: []string{"cpu", "netdev"},
			FSExcludeMountPoints: []string{"/mnt"}, FSExcludeTypes: []string{}}, ""},
		{"no topic", Config{}, "host_metrics: topic is required"},
		{"negative interval", Config{Topic: "m", Interval: -time.Second}, "host_metrics: interval -1s is negative"},
		{"tiny interval", Config{Topic: "m", Interval: time.Millisecond}, "host_metrics: interval 1ms is below 1s"},
		{"unknown collector", Config{Topic: "m", Collectors: []string{"cpu", "gpu"}},
			`host_metrics: unknown collector "gpu" (known: [cpu stat meminfo loadavg diskstats filesystem netdev netclass uname time])`},
		{"relative mount point", Config{Topic: "m", FSExcludeMountPoints: []string{"mnt"}},
			`host_metrics: excluded mount point "mnt" is not an absolute path`},
		{"two errors", Config{Interval: -1},
			"host_metrics: topic is required\nhost_metrics: interval -1ns is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Fatalf("got %q, want %q", got, tt.err)
			}
			_, err = New(tt.cfg)
			if (err == nil) != (tt.err == "") {
				t.Fatalf("New: %v", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := New(Config{Topic: "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	got := c.cfg
	if got.Name != "host_metrics" || got.Interval != 15*time.Second || got.Job != "node" ||
		got.Instance != host || got.ProcPath != "/proc" || got.SysPath != "/sys" || got.RootfsPath != "/" {
		t.Fatalf("defaults: %+v", got)
	}
	if !slices.Equal(got.Collectors, AllCollectors) || !slices.Equal(got.FSExcludeTypes, DefaultFSExcludeTypes) ||
		!slices.Equal(got.FSExcludeMountPoints, DefaultFSExcludeMountPoints) {
		t.Fatalf("default lists: %+v", got)
	}
	if c.key != "node/"+host {
		t.Fatalf("key %q", c.key)
	}
	if got.Logger == nil || got.Metrics == nil {
		t.Fatal("no logger or metrics set")
	}
}
