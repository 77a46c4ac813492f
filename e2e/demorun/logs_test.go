package demorun

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/logsim"
)

// The demo's v2 logging step: the api pod's logs adapter (demo/productionise
// v3's generated config, under the real Fluent Bit as its container runs)
// turns a go-httpbin line into the record it writes, with the fields the
// demo's config adds. Needs root.
func TestAdapterRecords(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (a mount namespace for the adapter)")
	}
	bin, err := logsim.FluentBit()
	if err != nil {
		t.Fatal(err)
	}
	line := `{"time":"2026-11-22T02:39:56.460964441Z","level":"INFO","msg":"200 GET /unstable?failure_rate=0.5 0.1ms","status":200,"route":"/unstable"}`
	dir := filepath.Join(env.RepoRoot(), "demo", "productionise", "v3")
	recs, err := adapterRecords(context.Background(), dir, "Deployment/api", bin, []string{line})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("records: %q", recs)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(recs[0]), &rec); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"msg": "200 GET /unstable?failure_rate=0.5 0.1ms", "status": 200.0, "app": "api", "pod": "api-7d9f5c-x2k4q"} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v in %s", k, rec[k], want, recs[0])
		}
	}
	if _, ok := rec["timestamp"]; !ok {
		t.Errorf("no timestamp in %s", recs[0])
	}
}
