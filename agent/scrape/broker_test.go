package scrape_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"

	"github.com/sluicehq/sluice/agent/scrape"
	"github.com/sluicehq/sluice/broker/server"
)

// TestScrapeBroker scrapes a real broker's /metrics, renaming its store
// metrics by metric relabeling and labeling the target by target
// relabeling.
func TestScrapeBroker(t *testing.T) {
	b, err := server.Start(server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("broker shutdown: %v", err)
		}
	}()
	addr := b.HTTPAddr()
	c := newCollector()
	stop := run(t, newScraper(t, scrape.Config{
		Job:     "broker",
		Targets: []string{addr},
		RelabelConfigs: []*relabel.Config{
			{Action: relabel.Replace, TargetLabel: "component", Replacement: "broker", Regex: relabel.MustNewRegexp("(.*)"), Separator: ";"},
		},
		MetricRelabelConfigs: []*relabel.Config{
			{Action: relabel.Replace, SourceLabels: []model.LabelName{"__name__"}, Regex: relabel.MustNewRegexp("sluice_store_(.*)"),
				TargetLabel: "__name__", Replacement: "broker_store_$1", Separator: ";"},
		},
	}), c)
	defer stop()
	r := c.waitRecords(t, 1)[0]
	if r.Key != "broker/"+addr {
		t.Errorf("key %q", r.Key)
	}
	got := decode(t, r)
	tl := []string{"component", "broker", "instance", addr, "job", "broker"}
	if v, ok := got[series(append(tl, "__name__", "up")...)]; !ok || v != 1 {
		t.Fatalf("up = %v, %v; got %v", v, ok, got)
	}
	if _, ok := got[series(append(tl, "__name__", "broker_store_appended_messages_total")...)]; !ok {
		t.Errorf("relabeled broker_store_appended_messages_total missing: %v", got)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(r.Body); err != nil {
		t.Fatal(err)
	}
	for _, ts := range wr.Timeseries {
		for _, l := range ts.Labels {
			if l.Name == "__name__" && len(l.Value) > 13 && l.Value[:13] == "sluice_store_" {
				t.Errorf("series %v escaped metric relabeling", ts.Labels)
			}
		}
	}
}
