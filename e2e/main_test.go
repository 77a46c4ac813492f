package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/cluster"
	"github.com/sidecarize/sidecarize/e2e/internal/env"
)

// scratch is the suite's temp directory, kept when a test fails.
var scratch string

// restrictedNS is labelled pod-security.kubernetes.io/enforce=restricted.
const restrictedNS = "e2e-restricted"

func TestMain(m *testing.M) {
	var err error
	scratch, err = os.MkdirTemp("", "sidecarize-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if theCluster != nil {
		theCluster.Stop()
	}
	if code == 0 {
		os.RemoveAll(scratch)
	} else {
		fmt.Fprintln(os.Stderr, "e2e: scratch directory kept:", scratch)
	}
	os.Exit(code)
}

var (
	clusterOnce sync.Once
	theCluster  *cluster.Cluster
	clusterErr  error
)

// kube returns the suite's kube-apiserver, starting it on first use.
func kube(t testing.TB) *cluster.Cluster {
	t.Helper()
	clusterOnce.Do(func() {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		bins, err := cluster.FindBinaries()
		if err != nil {
			clusterErr = err
			return
		}
		// Two attempts: a loopback port picked free can be taken before the
		// component binds it.
		var c *cluster.Cluster
		for attempt := 1; attempt <= 2; attempt++ {
			dir := filepath.Join(scratch, fmt.Sprintf("cluster-%d", attempt))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				clusterErr = err
				return
			}
			if c, err = cluster.Start(ctx, dir, bins); err == nil {
				break
			}
			fmt.Fprintf(os.Stderr, "e2e: cluster start attempt %d: %v\n", attempt, err)
		}
		if err != nil {
			clusterErr = err
			return
		}
		theCluster = c
		pov, err := env.Version("PROMETHEUS_OPERATOR_VERSION")
		if err != nil {
			clusterErr = err
			return
		}
		arv, err := env.Version("ARGO_ROLLOUTS_VERSION")
		if err != nil {
			clusterErr = err
			return
		}
		cmv, err := env.Version("CERT_MANAGER_VERSION")
		if err != nil {
			clusterErr = err
			return
		}
		if err := c.InstallCRDs(ctx, cluster.PrometheusOperatorCRDs(pov), cluster.ArgoRolloutsCRDs(arv), cluster.CertManagerCRDs(cmv)); err != nil {
			clusterErr = fmt.Errorf("install CRDs: %w\n%s", err, c.LogTail(3000))
			return
		}
		if err := c.EnsureNamespace(ctx, restrictedNS, map[string]string{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		}); err != nil {
			clusterErr = err
			return
		}
		fmt.Fprintf(os.Stderr, "e2e: kube-apiserver %s ready in %s (kubeconfig %s)\n", c.Server, time.Since(start).Round(time.Millisecond), c.Kubeconfig)
	})
	if clusterErr != nil {
		t.Fatalf("cluster: %v", clusterErr)
	}
	return theCluster
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// sidecarizeBin is $SIDECARIZE_BIN, or a build of the checkout.
func sidecarizeBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("SIDECARIZE_BIN"); p != "" {
			if !filepath.IsAbs(p) {
				p, _ = filepath.Abs(p)
			}
			if _, err := os.Stat(p); err != nil {
				binErr = fmt.Errorf("SIDECARIZE_BIN: %w", err)
			}
			binPath = p
			return
		}
		binPath = filepath.Join(scratch, "bin", "sidecarize")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sidecarize")
		cmd.Dir = env.RepoRoot()
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/sidecarize: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// runSidecarize runs the binary under test and returns stdout.
func runSidecarize(t testing.TB, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(sidecarizeBin(t), args...)
	cmd.Dir = env.RepoRoot()
	if stdin != nil {
		cmd.Stdin = bytesReader(stdin)
	}
	var stderr bytesBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("sidecarize %v: %w\n%s", args, err, stderr.String())
	}
	return out, nil
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
