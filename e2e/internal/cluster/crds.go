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

// PrometheusOperatorCRDs are the CRDs the generated objects need.
var PrometheusOperatorCRDs = []string{"servicemonitors", "podmonitors", "prometheusrules"}

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

// InstallPrometheusOperatorCRDs installs ServiceMonitor, PodMonitor and
// PrometheusRule from the prometheus-operator module's
// example/prometheus-operator-crd/ and waits until they are established.
func (c *Cluster) InstallPrometheusOperatorCRDs(ctx context.Context, version string) error {
	dir, err := DownloadModule(ctx, "github.com/prometheus-operator/prometheus-operator@"+version)
	if err != nil {
		return err
	}
	args := []string{"apply", "--server-side", "--field-manager=e2e"}
	wait := []string{"wait", "--for=condition=Established", "--timeout=60s"}
	for _, n := range PrometheusOperatorCRDs {
		args = append(args, "-f", filepath.Join(dir, "example", "prometheus-operator-crd", "monitoring.coreos.com_"+n+".yaml"))
		wait = append(wait, "crd/"+n+".monitoring.coreos.com")
	}
	if _, err := c.Kubectl(ctx, nil, args...); err != nil {
		return err
	}
	_, err = c.Kubectl(ctx, nil, wait...)
	return err
}
