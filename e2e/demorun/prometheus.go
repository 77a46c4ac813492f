package demorun

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/podsim"
	"github.com/sidecarize/sidecarize/e2e/promsim"
)

// circuitAlert is the ambassador's alert the demo follows.
const circuitAlert = "SidecarizeCircuitOpen"

// startPrometheus runs Prometheus against both pods: every target of the
// generated ServiceMonitors, every group of the generated PrometheusRules.
// The demo's timeline is seconds: each target is scraped every second
// (generated: 30s) and each alert's for: is 1s (generated: 5m and 1m).
// A watcher records the circuit alert's states as they change.
func (d *demo) startPrometheus(ctx context.Context, objs []manifest.Object) error {
	targets, err := promsim.Targets(objs, []*podsim.Pod{d.api.Pod, d.fe.Pod})
	if err != nil {
		return err
	}
	for i := range targets {
		targets[i].Interval = "1s"
	}
	groups := promsim.RuleGroups(objs)
	records, alerts := 0, 0
	for _, g := range groups {
		for _, r := range manifest.Slice(g.(map[string]any), "rules") {
			r := r.(map[string]any)
			if r["alert"] != nil {
				r["for"] = "1s"
				alerts++
			} else {
				records++
			}
		}
	}
	d.promRules = fmt.Sprintf("%d recorded series and %d alerts from %d rule groups", records, alerts, len(groups))
	d.prom, err = promsim.Start(ctx, promsim.Options{Bin: d.opt.Prometheus, Targets: targets, Sims: []*podsim.Sim{d.api, d.fe}, Groups: groups})
	return err
}

// promReady waits until Prometheus scrapes every target (its first scrapes
// come a few seconds after it starts, hence the early start) and the
// circuit alert is inactive (the ambassador's server is up), then follows
// that alert.
func (d *demo) promReady(ctx context.Context) error {
	for _, t := range d.prom.Targets {
		d.detail("%-34s → http://%s%s (job %s)", t.Source, t.Addr, t.Path, t.Labels["job"])
	}
	d.detail("rules: %s; scraped every 1s and alerts' for: 1s (the demo's timeline is seconds)", d.promRules)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ths, err := d.prom.TargetHealths(ctx)
		up := 0
		for _, th := range ths {
			if th.Health == "up" {
				up++
			}
		}
		var firing []promsim.Alert
		if err == nil {
			firing, err = d.prom.Alerts(ctx)
		}
		circuit := false
		for _, a := range firing {
			circuit = circuit || a.Labels["alertname"] == circuitAlert
		}
		if err == nil && up == len(d.prom.Targets) && !circuit {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus: after 20s: %d of %d targets up (%v), %s active: %v", up, len(d.prom.Targets), err, circuitAlert, circuit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	d.detail("every target is up; %s inactive", circuitAlert)
	d.watch = &alertWatch{done: make(chan struct{})}
	go d.watch.run(ctx, d.prom, d.start)
	d.closers = append(d.closers, d.watch.stop)
	return nil
}

// alertWatch follows the circuit alert's state every 200ms.
type alertWatch struct {
	mu     sync.Mutex
	states []string
	at     []time.Duration
	done   chan struct{}
	once   sync.Once
}

func (w *alertWatch) run(ctx context.Context, p *promsim.Prom, start time.Time) {
	for {
		if alerts, err := p.Alerts(ctx); err == nil {
			st := "inactive"
			for _, a := range alerts {
				if a.Labels["alertname"] == circuitAlert {
					st = a.State
				}
			}
			w.mu.Lock()
			if n := len(w.states); n == 0 || w.states[n-1] != st {
				w.states = append(w.states, st)
				w.at = append(w.at, time.Since(start))
			}
			w.mu.Unlock()
		}
		select {
		case <-w.done:
			return
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (w *alertWatch) stop() {
	w.once.Do(func() { close(w.done) })
}

// last is the latest state and the transitions so far.
func (w *alertWatch) last() (string, []string, []time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.states) == 0 {
		return "", nil, nil
	}
	return w.states[len(w.states)-1], append([]string(nil), w.states...), append([]time.Duration(nil), w.at...)
}

// waitCircuitAlert waits until the circuit alert is in state (firing, or
// inactive: resolved) and prints its transitions.
func (d *demo) waitCircuitAlert(ctx context.Context, state string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		st, states, at := d.watch.last()
		if st == state {
			var steps []string
			for i, s := range states {
				steps = append(steps, fmt.Sprintf("%s (%.1fs)", s, at[i].Seconds()))
			}
			d.detail("Prometheus: %s{workload=\"frontend\",upstream=\"api\"}: %s", circuitAlert, strings.Join(steps, " → "))
			d.rep.CircuitStates = states
			switch state {
			case "firing":
				d.rep.CircuitFiring = at[len(at)-1]
			case "inactive":
				d.rep.CircuitResolved = at[len(at)-1]
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus: %s not %s within %v (states seen: %v)\n%s", circuitAlert, state, within, states, d.prom.Logs())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// recorded prints what the rules recorded for the api and the frontend's
// ambassador, and the api's error-rate alert.
func (d *demo) recorded(ctx context.Context) error {
	one := func(q string) (float64, error) {
		vs, err := d.prom.Query(ctx, q)
		if err != nil {
			return 0, err
		}
		if len(vs) != 1 {
			return 0, fmt.Errorf("prometheus: %s: want one series, got %v", q, vs)
		}
		d.detail("%-78s %.3f", q, vs[0].Value)
		return vs[0].Value, nil
	}
	var err error
	if d.rep.RequestRate, err = one(`sidecarize:http_requests:rate5m{workload="api"}`); err != nil {
		return err
	}
	if d.rep.ErrorRatio, err = one(`sidecarize:http_errors:ratio_rate5m{workload="api"}`); err != nil {
		return err
	}
	if _, err = one(`sidecarize:upstream_canned_responses:rate5m{workload="frontend",upstream="api"}`); err != nil {
		return err
	}
	alerts, err := d.prom.Alerts(ctx)
	if err != nil {
		return err
	}
	d.rep.APIAlert = "inactive"
	for _, a := range alerts {
		if a.Labels["alertname"] == "SidecarizeHighErrorRate" && a.Labels["workload"] == "api" {
			d.rep.APIAlert = a.State
		}
	}
	d.detail("SidecarizeHighErrorRate{workload=\"api\"}: %s (the 5xx ratio over 5 minutes stays above 0.05 after the demo's seconds)", d.rep.APIAlert)
	return nil
}
