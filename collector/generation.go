package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/pipelines/config"
)

// shutdownTimeout is how long Run gives pipelines to finish their
// batches and sinks to flush: DESIGN.md's 10 s, less a margin to exit.
const shutdownTimeout = 9 * time.Second

// generation is one config's pipelines and sinks, running together.
type generation struct {
	cfg   config.Collector
	sinks map[string]*sinkRunner
	pipes []*pipeline

	pollCancel context.CancelFunc // stops polling
	workCancel context.CancelFunc // abandons the batches in hand
	wg         sync.WaitGroup
}

// build makes every sink a pipeline uses and every processor; nothing
// runs yet. On error nothing is left open.
func (c *Collector) build(cfg config.Collector) (_ *generation, err error) {
	g := &generation{cfg: cfg, sinks: map[string]*sinkRunner{}}
	defer func() {
		if err != nil {
			closeSinks(context.Background(), g.sinks)
		}
	}()
	for _, sn := range sortedKeys(usedSinks(cfg)) {
		sc := cfg.Sinks[sn]
		f, ok := c.reg.sinks[sc.Type]
		if !ok {
			return nil, fmt.Errorf("sink %s: type %s is not available in this build", sn, sc.Type)
		}
		s, err := f.build(sc.Config, c.settings(sn, "sink"))
		if err != nil {
			return nil, fmt.Errorf("sink %s: %w", sn, err)
		}
		dlqTopic := cmp.Or(sc.DLQTopic, cfg.Group+"-dlq")
		g.sinks[sn] = newSinkRunner(sn, sc.Type, s, cmp.Or(sc.OnFailure, onFailureRetry), dlqTopic, c.lg, c.set)
	}
	for _, pn := range sortedKeys(cfg.Pipelines) {
		p, err := c.buildPipeline(pn, cfg, g.sinks)
		if err != nil {
			return nil, err
		}
		g.pipes = append(g.pipes, p)
	}
	return g, nil
}

func (c *Collector) buildPipeline(name string, cfg config.Collector, sinks map[string]*sinkRunner) (*pipeline, error) {
	pc := cfg.Pipelines[name]
	p := &pipeline{name: name, to: pc.To, sinks: map[string]*sinkRunner{}, lg: c.lg.With("pipeline", name)}
	if cfg.Input != "kafka" {
		p.dlq = c.dlq
	}
	newPipelineMetrics(p, c.set)
	for i, pr := range pc.Processors {
		f, ok := c.reg.processors[pr.Type]
		if !ok {
			return nil, fmt.Errorf("pipeline %s: processor type %s is not available in this build", name, pr.Type)
		}
		pname := fmt.Sprintf("%s/%d-%s", name, i, pr.Type)
		proc, err := f.build(pr.Config, c.settings(pname, "processor"))
		if err != nil {
			return nil, fmt.Errorf("pipeline %s processor %d (%s): %w", name, i, pr.Type, err)
		}
		l := fmt.Sprintf(`{pipeline=%q,processor=%q}`, name, pname)
		p.stages = append(p.stages, stage{proc: proc,
			in:  c.set.GetOrCreateCounter(`sluice_collector_processor_events_in_total` + l),
			out: c.set.GetOrCreateCounter(`sluice_collector_processor_events_out_total` + l)})
	}
	for sn := range pipelineSinks(pc) {
		p.sinks[sn] = sinks[sn]
	}
	return p, nil
}

// pipelineSinks returns the sinks a pipeline can send to: its `to` and
// those its processors route to.
func pipelineSinks(p *config.Pipeline) map[string]bool {
	out := map[string]bool{}
	for _, s := range p.To {
		out[s] = true
	}
	for _, pr := range p.Processors {
		if refs, ok := pr.Config.(config.SinkRefs); ok {
			for _, names := range refs.SinkRefs() {
				for _, n := range names {
					out[n] = true
				}
			}
		}
	}
	return out
}

func usedSinks(cfg config.Collector) map[string]bool {
	out := map[string]bool{}
	for _, p := range cfg.Pipelines {
		for s := range pipelineSinks(p) {
			out[s] = true
		}
	}
	return out
}

// start opens every pipeline's input and runs the pipelines.
func (c *Collector) start(g *generation) error {
	pollCtx, pollCancel := context.WithCancel(context.Background())
	workCtx, workCancel := context.WithCancel(context.Background())
	g.pollCancel, g.workCancel = pollCancel, workCancel
	var errs []error
	for _, p := range g.pipes {
		in, err := c.openInput(g.cfg, p.name)
		if err != nil {
			errs = append(errs, fmt.Errorf("pipeline %s: %w", p.name, err))
			continue
		}
		p.in = in
		g.wg.Go(func() {
			defer in.Close()
			if err := p.run(pollCtx, workCtx); err != nil {
				p.lg.Error("pipeline stopped", "err", err)
			}
		})
	}
	return errors.Join(errs...)
}

// openInput makes the consumer of a pipeline.
func (c *Collector) openInput(cfg config.Collector, name string) (input, error) {
	pc := cfg.Pipelines[name]
	group := cmp.Or(pc.From.Group, cfg.Group)
	if cfg.Input == "kafka" {
		return c.openKafkaInput(cfg, pc, group)
	}
	return newBrokerInput(c.client, client.ConsumerConfig{Group: group, Topic: pc.From.Topic, Tags: pc.From.Tags, StartFrom: pc.From.StartFrom})
}

// stop stops g's pipelines, letting each finish its batch while ctx
// lasts, then closes its sinks.
func (c *Collector) stop(ctx context.Context, g *generation) error {
	if g.pollCancel != nil {
		g.pollCancel()
		done := make(chan struct{})
		go func() { g.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			c.lg.Warn("pipelines did not finish their batches in time; those are handed again after the restart")
			g.workCancel()
			<-done
		}
		g.workCancel()
	}
	return closeSinks(ctx, g.sinks)
}

func closeSinks(ctx context.Context, sinks map[string]*sinkRunner) error {
	var errs []error
	for _, sn := range sortedKeys(sinks) {
		if err := sinks[sn].sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close sink %s: %w", sn, err))
		}
	}
	return errors.Join(errs...)
}
