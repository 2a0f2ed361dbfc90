package agent

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/pipelines/config"
)

type reloadMetrics struct {
	success, failure *metrics.Counter
	lastSuccess      *metrics.Gauge
}

func newReloadMetrics(set *metrics.Set) reloadMetrics {
	return reloadMetrics{
		success:     set.GetOrCreateCounter(`sluice_agent_config_reloads_total{result="success"}`),
		failure:     set.GetOrCreateCounter(`sluice_agent_config_reloads_total{result="failure"}`),
		lastSuccess: set.GetOrCreateGauge(`sluice_agent_config_last_reload_success_timestamp_seconds`, nil),
	}
}

// count records the outcome of one reload.
func (m reloadMetrics) count(err error) {
	if err != nil {
		m.failure.Inc()
		return
	}
	m.success.Inc()
	m.lastSuccess.Set(float64(time.Now().Unix()))
}

// ReloadFile reads and checks the config file at path again and reloads
// its agent section. A file that does not load is logged with its
// FILE:LINE:COL errors, counted as a failed reload and changes nothing.
func (a *Agent) ReloadFile(path string) error {
	f, err := config.Load(path)
	if err == nil && (f.Agent == nil || len(f.Agent.Sources) == 0) {
		err = fmt.Errorf("%s: the agent: section has no sources", path)
	}
	if err != nil {
		a.lg.Error("config not reloaded: the sources keep running as they were", "file", path, "err", err)
		a.rm.count(err)
		return err
	}
	return a.Reload(*f.Agent)
}

// Reload makes the running sources those of sec, which must be checked
// already (config.Parse or Load did). Sources whose config is unchanged
// keep running untouched; removed ones are stopped and waited for (a file
// source's checkpoint covers only acknowledged lines, so what it had in
// flight is read again by its successor or after a restart); new and
// changed ones are started. A changed source is stopped before its new
// version is built, so that they never share a port or a checkpoint
// file; if the new version cannot be built the old one is started again
// and the reload fails. A source that had stopped on an error is
// restarted. Changes to broker, http_listen, output, kafka and spool need
// a restart: they are logged and ignored.
//
// Every call is counted in sluice_agent_config_reloads_total{result}.
func (a *Agent) Reload(sec config.Agent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.reloadLocked(sec)
	if err != nil {
		a.lg.Error("config reload failed", "err", err)
	}
	a.rm.count(err) // after the log: who sees the count finds the log line
	return err
}

func (a *Agent) reloadLocked(sec config.Agent) error {
	if a.ctx == nil || a.ctx.Err() != nil {
		return ErrNotRunning
	}
	if keys := needRestart(a.sec, sec); len(keys) > 0 {
		a.lg.Warn("config reload: these settings change only with a restart; ignored", "keys", keys)
	}
	p := a.planLocked(sec.Sources)
	stopping := map[string]*runningSource{}
	for _, n := range append(p.removed, p.changed...) {
		stopping[n] = a.running[n]
		delete(a.running, n)
	}
	stopAll(stopping)

	env := a.env()
	var errs []error
	for _, n := range append(p.changed, p.added...) {
		s, err := buildNamed(n, sec.Sources[n], env)
		if err == nil {
			a.startLocked(s)
			continue
		}
		errs = append(errs, err)
		old, ok := stopping[n]
		if !ok {
			continue
		}
		// Keep what ran: the old version is started again.
		if s, rerr := buildNamed(n, old.cfg, env); rerr != nil {
			errs = append(errs, fmt.Errorf("source %s: its previous config cannot be started again either: %w", n, rerr))
		} else {
			a.startLocked(s)
		}
	}
	srcs := make(map[string]config.Source, len(a.running))
	for n, r := range a.running {
		srcs[n] = r.cfg
	}
	a.sec.Sources = srcs
	a.lg.Info("config reloaded", "added", p.added, "removed", p.removed, "changed", p.changed, "unchanged", p.kept)
	return errors.Join(errs...)
}

// sourcePlan is what a reload does to each source, by name, sorted.
type sourcePlan struct {
	added, removed, changed, kept []string
}

func (a *Agent) planLocked(want map[string]config.Source) sourcePlan {
	var p sourcePlan
	for n, r := range a.running {
		sc, ok := want[n]
		switch {
		case !ok:
			p.removed = append(p.removed, n)
		case !sameSource(r.cfg, sc) || r.exited():
			p.changed = append(p.changed, n)
		default:
			p.kept = append(p.kept, n)
		}
	}
	for n := range want {
		if _, ok := a.running[n]; !ok {
			p.added = append(p.added, n)
		}
	}
	for _, l := range [][]string{p.added, p.removed, p.changed, p.kept} {
		sort.Strings(l)
	}
	return p
}

// sameSource reports whether two checked source configs are the same.
func sameSource(a, b config.Source) bool { return reflect.DeepEqual(a, b) }

// needRestart lists the keys of the agent section, other than sources,
// that differ: the output, the spool and the HTTP listener are made once.
func needRestart(old, cur config.Agent) []string {
	var keys []string
	if old.Broker != cur.Broker {
		keys = append(keys, "broker")
	}
	if old.HTTPListen != cur.HTTPListen {
		keys = append(keys, "http_listen")
	}
	if old.Output != cur.Output {
		keys = append(keys, "output")
	}
	if !reflect.DeepEqual(old.Kafka, cur.Kafka) {
		keys = append(keys, "kafka")
	}
	if old.Spool != cur.Spool {
		keys = append(keys, "spool")
	}
	return keys
}
