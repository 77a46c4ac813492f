package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// ModuleCRDs names CRD manifests inside a Go module (fetched from the module
// proxy) and the CRD names they define.
type ModuleCRDs struct {
	Module string // path@version
	Files  []string
	Names  []string // <plural>.<group>
}

// PrometheusOperatorCRDs are ServiceMonitor, PodMonitor and PrometheusRule
// from the prometheus-operator module's example/prometheus-operator-crd/.
func PrometheusOperatorCRDs(version string) ModuleCRDs {
	m := ModuleCRDs{Module: "github.com/prometheus-operator/prometheus-operator@" + version}
	for _, n := range []string{"servicemonitors", "podmonitors", "prometheusrules"} {
		m.Files = append(m.Files, "example/prometheus-operator-crd/monitoring.coreos.com_"+n+".yaml")
		m.Names = append(m.Names, n+".monitoring.coreos.com")
	}
	return m
}

// ArgoRolloutsCRDs is the Rollout CRD (for workloads of other kinds with a
// pod template) from the argo-rollouts module's manifests/crds/.
func ArgoRolloutsCRDs(version string) ModuleCRDs {
	return ModuleCRDs{
		Module: "github.com/argoproj/argo-rollouts@" + version,
		Files:  []string{"manifests/crds/rollout-crd.yaml"},
		Names:  []string{"rollouts.argoproj.io"},
	}
}

// DownloadModule fetches a module with `go mod download` and returns its
// directory in the module cache.
func DownloadModule(ctx context.Context, modVersion string) (string, error) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			return "", err
		}
	}
	tmp, err := os.MkdirTemp("", "e2e-moddl-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, gobin, "mod", "download", "-json", modVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GO111MODULE=on")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || info.Error != "" || err != nil {
		return "", fmt.Errorf("go mod download %s: %v %s %s", modVersion, err, info.Error, out)
	}
	return info.Dir, nil
}

// InstallCRDs installs CRDs from module files and waits until they are
// established.
func (c *Cluster) InstallCRDs(ctx context.Context, sets ...ModuleCRDs) error {
	args := []string{"apply", "--server-side", "--field-manager=e2e"}
	wait := []string{"wait", "--for=condition=Established", "--timeout=60s"}
	for _, set := range sets {
		dir, err := DownloadModule(ctx, set.Module)
		if err != nil {
			return err
		}
		for _, f := range set.Files {
			args = append(args, "-f", filepath.Join(dir, f))
		}
		for _, n := range set.Names {
			wait = append(wait, "crd/"+n)
		}
	}
	if _, err := c.Kubectl(ctx, nil, args...); err != nil {
		return err
	}
	_, err := c.Kubectl(ctx, nil, wait...)
	return err
}
