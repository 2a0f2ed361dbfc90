package config

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/pipelines/component"
)

// Collector is the collector: section.
type Collector struct {
	Broker     string `yaml:"broker"`      // default 127.0.0.1:7600
	HTTPListen string `yaml:"http_listen"` // default 127.0.0.1:7620; "off" for none
	// Group is the consumer group the collector's pipelines join, so that
	// several collectors share the load. Default "collectors".
	Group string `yaml:"group"`
	// Input is where pipelines read: broker (default) or kafka.
	Input     string               `yaml:"input"`
	Kafka     *KafkaInput          `yaml:"kafka"`
	Pipelines map[string]*Pipeline `yaml:"pipelines"`
	Sinks     map[string]*Sink     `yaml:"sinks"`
	// MemoryBudget, if set, is the memory `sluice collector` may fill
	// before the Go GC runs (GOGC off, a soft limit; it rises with the
	// live data so the GC never thrashes): less CPU for more memory (see
	// internal/memlimit). Unset or 0: GOGC alone. GOMEMLIMIT overrides it.
	MemoryBudget Size `yaml:"memory_budget"`
}

// KafkaInput is where `input: kafka` reads.
type KafkaInput struct {
	Brokers []string `yaml:"brokers"`
	// TLS, when set, connects to the brokers over TLS.
	TLS *TLS `yaml:"tls"`
}

// Pipeline reads one topic, runs its processors in order and writes to
// its sinks.
type Pipeline struct {
	From       From         `yaml:"from"`
	Processors []*Processor `yaml:"processors"`
	// To names the sinks every event goes to (unless a route processor
	// sent it elsewhere).
	To []string `yaml:"to"`
}

// From is what a pipeline consumes.
type From struct {
	Topic string `yaml:"topic"`
	// Tags filters by tag ("A || B"); broker input only.
	Tags string `yaml:"tags"`
	// StartFrom is where a group with no committed offsets starts:
	// earliest (default), latest or an RFC 3339 time.
	StartFrom string `yaml:"start_from"`
	// Group overrides the collector's group for this pipeline: two
	// pipelines that read one topic need different groups, or they would
	// split its messages between them.
	Group string `yaml:"group"`
}

// Processor is one entry of a pipeline's processors: a mapping with one
// key, the processor's type, whose value is that processor's Config.
type Processor struct {
	Type string
	// Config is a pointer to the processor package's Config, filled in by
	// ParseWith (nil when parsed without Components).
	Config any

	node *yaml.Node
}

// UnmarshalYAML keeps the node; ParseWith decodes it once it knows the
// type's Config.
func (p *Processor) UnmarshalYAML(n *yaml.Node) error {
	p.node = n
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		p.Type = n.Content[0].Value
	}
	return nil
}

// Sink is one entry of collector.sinks: the keys every sink has, and the
// sink type's own Config.
type Sink struct {
	SinkCommon
	// Config is a pointer to the sink package's Config, filled in by
	// ParseWith (nil when parsed without Components).
	Config any

	node *yaml.Node
}

// SinkCommon are the keys every sink takes besides its own.
type SinkCommon struct {
	Type string `yaml:"type"`
	// OnFailure is what the collector does with a batch the sink returned
	// an error for: retry (default: the batch waits in the broker and is
	// tried again, with back-off), dlq (the batch's messages go to
	// DLQTopic and the pipeline moves on) or drop (counted, logged).
	OnFailure string `yaml:"on_failure"`
	// DLQTopic is the dead-letter topic for on_failure: dlq; default
	// "<group>-dlq".
	DLQTopic string `yaml:"dlq_topic"`
}

// UnmarshalYAML keeps the node; ParseWith decodes it.
func (s *Sink) UnmarshalYAML(n *yaml.Node) error {
	s.node = n
	return n.Decode(&struct {
		*SinkCommon `yaml:",inline"`
		Rest        map[string]yaml.Node `yaml:",inline"`
	}{SinkCommon: &s.SinkCommon})
}

// Components tells ParseWith which processor and sink types exist and
// what each one's Config is: each function returns a pointer to a new
// zero Config. The collector's components.go is the one list.
type Components struct {
	Processors map[string]func() any
	Sinks      map[string]func() any
}

// SinkRefs is implemented by processor Configs that name sinks (route),
// so that a name of no sink is caught when the file is checked.
type SinkRefs interface {
	SinkRefs() map[string][]string // path relative to the config → names
}

var (
	processorType  = typeOf(Processor{})
	sinkType       = typeOf(Sink{})
	sinkCommonType = typeOf(SinkCommon{})
)

// checkProcessor checks a processor entry against its type's Config.
func (w *walker) checkProcessor(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		w.add(n, "%s: want a mapping with one key, the processor type (one of %s)", path, w.names(w.comps.Processors))
		return
	}
	k, v := n.Content[0], n.Content[1]
	newCfg, ok := w.comps.Processors[k.Value]
	if !ok {
		w.add(k, "%s: unknown processor type %q (known: %s)", path, k.Value, w.names(w.comps.Processors))
		return
	}
	w.check(v, typeOf(newCfg()), join(path, k.Value))
}

// checkSink checks a sink entry: its common keys and its type's keys.
func (w *walker) checkSink(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		w.add(n, "%s: want a mapping, got %s", path, kindName(n))
		return
	}
	common, own := splitSink(n)
	typ, at := "", n
	for i := 0; i+1 < len(common.Content); i += 2 {
		if common.Content[i].Value == "type" {
			typ, at = common.Content[i+1].Value, common.Content[i+1]
		}
	}
	newCfg, ok := w.comps.Sinks[typ]
	if !ok {
		w.add(at, "%s: type %q is not a sink type (known: %s)", path, typ, w.names(w.comps.Sinks))
		return
	}
	w.check(common, sinkCommonType, path)
	cfgType := typeOf(newCfg()).Elem()
	if len(own.Content) > 0 || cfgType.NumField() > 0 {
		w.extraKnown = sinkCommonType
		w.check(own, cfgType, path)
		w.extraKnown = nil
	}
}

// splitSink returns two mappings: the keys of SinkCommon and the others.
func splitSink(n *yaml.Node) (common, own *yaml.Node) {
	common = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	own = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	commonKeys := map[string]bool{}
	for f := range sinkCommonType.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		commonKeys[name] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		dst := own
		if commonKeys[n.Content[i].Value] {
			dst = common
		}
		dst.Content = append(dst.Content, n.Content[i], n.Content[i+1])
	}
	return common, own
}

func (w *walker) names(m map[string]func() any) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// decodeComponents fills in the Config of every processor and sink and
// runs their Validate.
func (c *Collector) decodeComponents(comps *Components, path string) []FieldError {
	var errs []FieldError
	for _, pn := range sortedNames(c.Pipelines) {
		p := c.Pipelines[pn]
		if p == nil {
			continue
		}
		for i, proc := range p.Processors {
			ppath := fmt.Sprintf("%s.pipelines.%s.processors[%d].%s", path, pn, i, proc.Type)
			cfg := comps.Processors[proc.Type]()
			if v := proc.node.Content[1]; !isNull(v) {
				if err := v.Decode(cfg); err != nil {
					errs = append(errs, FieldError{ppath, err.Error()})
					continue
				}
			}
			proc.Config = cfg
			errs = append(errs, validateComponent(cfg, ppath)...)
			if refs, ok := cfg.(SinkRefs); ok {
				for rp, names := range refs.SinkRefs() {
					for _, name := range names {
						if c.Sinks[name] == nil {
							errs = append(errs, FieldError{join(ppath, rp), fmt.Sprintf("sink %q is not defined in %s.sinks", name, path)})
						}
					}
				}
			}
		}
	}
	for _, sn := range sortedNames(c.Sinks) {
		s := c.Sinks[sn]
		if s == nil {
			continue
		}
		spath := path + ".sinks." + sn
		cfg := comps.Sinks[s.Type]()
		_, own := splitSink(s.node)
		if err := own.Decode(cfg); err != nil {
			errs = append(errs, FieldError{spath, err.Error()})
			continue
		}
		s.Config = cfg
		errs = append(errs, validateComponent(cfg, spath)...)
	}
	return errs
}

func validateComponent(cfg any, path string) []FieldError {
	v, ok := cfg.(interface{ Validate() error })
	if !ok {
		return nil
	}
	var errs []FieldError
	for _, fe := range component.FieldErrors(v.Validate()) {
		at := joinField(path, fe.Path)
		errs = append(errs, FieldError{at, at + ": " + fe.Msg})
	}
	return errs
}

func joinField(path, field string) string {
	switch {
	case field == "":
		return path
	case strings.HasPrefix(field, "["):
		return path + field
	}
	return path + "." + field
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Defaults of the collector section.
const (
	DefaultCollectorHTTP  = "127.0.0.1:7620"
	DefaultCollectorGroup = "collectors"
	DefaultBroker         = "127.0.0.1:7600"
)

// WithDefaults returns the section with every empty setting at its default.
func (c Collector) WithDefaults() Collector {
	if c.Broker == "" {
		c.Broker = DefaultBroker
	}
	if c.HTTPListen == "" {
		c.HTTPListen = DefaultCollectorHTTP
	}
	if c.Group == "" {
		c.Group = DefaultCollectorGroup
	}
	if c.Input == "" {
		c.Input = "broker"
	}
	return c
}

// Validate checks the section at path, except the components' own keys
// (decodeComponents does those).
func (c *Collector) Validate(path string) []FieldError {
	var errs []FieldError
	bad := func(p, format string, args ...any) {
		errs = append(errs, FieldError{join(path, p), fmt.Sprintf(format, args...)})
	}
	for key, addr := range map[string]string{"broker": c.Broker, "http_listen": c.HTTPListen} {
		if addr != "" && !(key == "http_listen" && addr == "off") {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				bad(key, "%s: %q is not host:port", key, addr)
			}
		}
	}
	switch c.Input {
	case "", "broker":
	case "kafka":
		if c.Kafka == nil || len(c.Kafka.Brokers) == 0 {
			bad("input", "input: kafka needs kafka.brokers")
		}
	default:
		bad("input", "input: %q is not broker or kafka", c.Input)
	}
	if len(c.Pipelines) == 0 {
		bad("pipelines", "a collector needs at least one pipeline")
	}
	readers := map[[2]string]string{} // (topic, group) -> pipeline
	for _, pn := range sortedNames(c.Pipelines) {
		errs = append(errs, c.validatePipeline(join(path, "pipelines."+pn), pn)...)
		if p := c.Pipelines[pn]; p != nil {
			group := cmp.Or(p.From.Group, c.Group, DefaultCollectorGroup)
			k := [2]string{p.From.Topic, group}
			if other, dup := readers[k]; dup {
				bad("pipelines."+pn+".from", "pipelines %s and %s both read topic %s in group %q: they would split its messages; give one of them from.group",
					other, pn, p.From.Topic, group)
			}
			readers[k] = pn
		}
	}
	for _, sn := range sortedNames(c.Sinks) {
		s := c.Sinks[sn]
		if s == nil {
			bad("sinks."+sn, "sink %s is empty: it needs at least a type", sn)
			continue
		}
		switch s.OnFailure {
		case "", "retry", "drop":
		case "dlq":
			if c.Input == "kafka" {
				bad("sinks."+sn+".on_failure", "on_failure: dlq needs the broker input (dead letters go to a broker topic)")
			}
		default:
			bad("sinks."+sn+".on_failure", "on_failure: %q is not retry, dlq or drop", s.OnFailure)
		}
		if s.DLQTopic != "" && s.OnFailure != "dlq" {
			bad("sinks."+sn+".dlq_topic", "dlq_topic is only used with on_failure: dlq")
		}
		if s.DLQTopic != "" && !topicRe.MatchString(s.DLQTopic) {
			bad("sinks."+sn+".dlq_topic", "dlq_topic %q: want 1-200 of A-Z a-z 0-9 . _ -", s.DLQTopic)
		}
	}
	return errs
}

func (c *Collector) validatePipeline(path, name string) []FieldError {
	var errs []FieldError
	bad := func(p, format string, args ...any) {
		errs = append(errs, FieldError{join(path, p), fmt.Sprintf(format, args...)})
	}
	p := c.Pipelines[name]
	if p == nil {
		bad("", "pipeline %s is empty: it needs from.topic and to", name)
		return errs
	}
	if !topicRe.MatchString(p.From.Topic) {
		bad("from.topic", "pipeline %s: topic %q: want 1-200 of A-Z a-z 0-9 . _ -", name, p.From.Topic)
	}
	switch p.From.StartFrom {
	case "", "earliest", "latest":
	default:
		if _, err := time.Parse(time.RFC3339, p.From.StartFrom); err != nil || c.Input == "kafka" {
			bad("from.start_from", "pipeline %s: start_from %q: want earliest, latest or (broker input) an RFC 3339 time", name, p.From.StartFrom)
		}
	}
	if p.From.Tags != "" && c.Input == "kafka" {
		bad("from.tags", "pipeline %s: tags filter broker topics; Kafka has no tags", name)
	}
	routes := slices.ContainsFunc(p.Processors, func(pr *Processor) bool { return pr != nil && pr.Type == "route" })
	if len(p.To) == 0 && !routes {
		bad("to", "pipeline %s: to: name at least one sink", name)
	}
	for i, s := range p.To {
		if c.Sinks[s] == nil {
			bad(fmt.Sprintf("to[%d]", i), "pipeline %s: sink %q is not defined in collector.sinks", name, s)
		}
	}
	return errs
}
