package configs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/collector"
	"github.com/sluicehq/sluice/configs"
	"github.com/sluicehq/sluice/pipelines/config"
)

// TestEveryExampleLoads checks every example with the components of this
// build, as `sluice validate` does.
func TestEveryExampleLoads(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 7 {
		t.Fatalf("found %d examples, want at least 7: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			cfg, err := config.LoadWith(f, collector.Components())
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Broker == nil && cfg.Agent == nil && cfg.Collector == nil {
				t.Fatal("no section at all")
			}
		})
	}
}

// TestQuickstartIsEmbedded checks that `sluice up` runs the file as it is.
func TestQuickstartIsEmbedded(t *testing.T) {
	b, err := os.ReadFile("quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(configs.Quickstart) {
		t.Fatal("embedded quickstart differs from quickstart.yaml")
	}
	f, err := config.ParseWith("quickstart.yaml", configs.Quickstart, collector.Components())
	if err != nil {
		t.Fatal(err)
	}
	if f.Broker == nil || f.Agent == nil || f.Collector == nil {
		t.Fatal("quickstart must have all three sections")
	}
}
