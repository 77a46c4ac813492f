package e2e

import (
	"testing"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
)

// haproxies is the version matrix (env.HAProxies): every test that runs a
// generated config runs it on each, as a subtest named haproxy-<version>.
func haproxies(t testing.TB) []env.HAProxy {
	t.Helper()
	hs, err := env.HAProxies()
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// eachHAProxy runs f as a parallel subtest per version of the matrix.
func eachHAProxy(t *testing.T, f func(t *testing.T, h env.HAProxy)) {
	t.Helper()
	for _, h := range haproxies(t) {
		t.Run(h.Name(), func(t *testing.T) {
			t.Parallel()
			f(t, h)
		})
	}
}

// newestHAProxy is the matrix's last version, the default image's branch:
// tests that prove the simulator catches a defect run on it alone.
func newestHAProxy(t testing.TB) env.HAProxy {
	hs := haproxies(t)
	return hs[len(hs)-1]
}
