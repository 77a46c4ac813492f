package env

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FluentBit is the Fluent Bit the logs tests and the demo run:
// $FLUENT_BIT_BIN, else shared/tools/fluent-bit-5.1.1/fluent-bit beside the
// checkout (or beside the directory holding it). It must report Fluent
// Bit 5.1, the default image's minor.
func FluentBit() (string, error) {
	return versioned("FLUENT_BIT_BIN", sharedTool("fluent-bit-5.1.1", "fluent-bit"), "shared/tools/fluent-bit-5.1.1/fluent-bit",
		"--version", "Fluent Bit v5.1.")
}

// Exporter is an exporter built at the version its preset's image pins:
// $envVar, else shared/tools/exporters/<file> beside the checkout (or
// beside the directory holding it). It must report that version.
func Exporter(envVar, file, version string) (string, error) {
	return versioned(envVar, sharedTool("exporters", file), "shared/tools/exporters/"+file,
		"--version", "version "+version+" ")
}

// versioned resolves $envVar, else def, and checks that `bin flag` prints
// want.
func versioned(envVar, def, where, flag, want string) (string, error) {
	bin := os.Getenv(envVar)
	if bin == "" {
		bin = def
	}
	if bin == "" {
		return "", fmt.Errorf("%s not found beside the checkout: set %s", where, envVar)
	}
	out, err := exec.Command(bin, flag).CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		return "", fmt.Errorf("%s %s: want %q (%v):\n%s", bin, flag, want, err, out)
	}
	return reachable(bin)
}

// reachable is bin, or a copy of it that every user can run. Tests run
// helpers as the pod's non-root runAsUser, and a binary under a directory
// only root may enter (a checkout in a `mktemp -d` directory, mode 0700)
// cannot be started by that user ("permission denied"). The copy lives in
// $TMPDIR/sidecarize-e2e-tools (mode 0755), named by its content, so
// concurrent test processes share it.
func reachable(bin string) (string, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if everyoneEnters(filepath.Dir(abs)) {
		return bin, nil
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "sidecarize-e2e-tools")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	dst := filepath.Join(dir, fmt.Sprintf("%s-%x", filepath.Base(abs), sum[:8]))
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	tmp, err := os.CreateTemp(dir, ".copy-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return "", err
	}
	return dst, os.Rename(tmp.Name(), dst)
}

// everyoneEnters: may every user traverse dir and each directory above it?
func everyoneEnters(dir string) bool {
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		up := filepath.Dir(dir)
		if up == dir {
			return true
		}
		dir = up
	}
}
