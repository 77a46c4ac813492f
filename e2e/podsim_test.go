package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

// sampleGlobs are the suite's own hand-written transformed workloads.
var sampleGlobs = []string{"e2e/testdata/sample/*.yaml"}

// TestPodSim runs every HAProxy container of every generated output (and of
// the suite's samples) in a simulated pod and exercises it, on every HAProxy
// version of the matrix.
func TestPodSim(t *testing.T) {
	pods := 0
	for _, f := range outputsAndSamples(t) {
		data, err := os.ReadFile(filepath.Join(env.RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		ps, err := podsim.Load(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range ps {
			pods++
			t.Run(f+"/"+p.Workload, func(t *testing.T) {
				eachHAProxy(t, func(t *testing.T, h env.HAProxy) {
					if err := simulate(t, p, h); err != nil {
						t.Error(err)
					}
				})
			})
		}
	}
	if pods == 0 {
		t.Fatal("no workload with an HAProxy container found")
	}
}

// simulate starts the pod with HAProxy h, verifies it and returns the
// failures (logging the passes).
func simulate(t testing.TB, p *podsim.Pod, h env.HAProxy) error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sim, err := podsim.Start(ctx, p, podsim.Options{HAProxy: h.Path})
	if err != nil {
		return err
	}
	defer sim.Stop()
	var fails []string
	for _, r := range sim.Verify(ctx) {
		if r.Err != nil {
			fails = append(fails, fmt.Sprintf("%s: %v", r.Check, r.Err))
		} else {
			t.Logf("ok: %s", r.Check)
		}
	}
	if len(fails) > 0 {
		var logs strings.Builder
		for _, pr := range sim.Procs {
			fmt.Fprintf(&logs, "--- %s (%q) output:\n%s\n", pr.Container, pr.Argv, pr.Output())
		}
		return fmt.Errorf("%s on HAProxy %s:\n  %s\n%s", p.Workload, h.Version, strings.Join(fails, "\n  "), logs.String())
	}
	return nil
}
