package demorun

import (
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestChart draws a report's page views: the SVG names each result with
// its count and the alert's marks.
func TestChart(t *testing.T) {
	r := &Report{CircuitFiring: 9 * time.Second, CircuitResolved: 12 * time.Second}
	for i, res := range []string{"ok", "failed", "ok", "failed", "failed", "failed", "degraded", "degraded", "ok"} {
		r.Views = append(r.Views, View{At: time.Duration(i+5) * time.Second, Result: res})
	}
	path := filepath.Join(t.TempDir(), "chart.svg")
	if err := writeChart(path, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	svg := html.UnescapeString(string(b))
	for _, want := range []string{"<svg", "good (the API's answer): 3", "failed (500): 4", "canned (circuit open): 2",
		"SidecarizeCircuitOpen firing (9.0s)", "SidecarizeCircuitOpen resolved (12.0s)", "seconds since the demo started"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart has no %q", want)
		}
	}
}
