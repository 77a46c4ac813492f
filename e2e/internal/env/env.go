// Package env locates the repository, the pinned component versions
// (scripts/e2e/versions.env) and the binaries the e2e suite runs.
package env

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// RepoRoot is the sidecarize checkout that contains this e2e module.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("env: no caller information")
	}
	// file is <repo>/e2e/internal/env/env.go
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// E2ERoot is the e2e module's directory.
func E2ERoot() string { return filepath.Join(RepoRoot(), "e2e") }

var (
	versionsOnce sync.Once
	versions     map[string]string
	versionsErr  error
)

// Version returns a KEY from scripts/e2e/versions.env.
func Version(key string) (string, error) {
	versionsOnce.Do(func() {
		versions = map[string]string{}
		f, err := os.Open(filepath.Join(RepoRoot(), "scripts", "e2e", "versions.env"))
		if err != nil {
			versionsErr = err
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				versionsErr = fmt.Errorf("versions.env: bad line %q", line)
				return
			}
			versions[k] = v
		}
		versionsErr = sc.Err()
	})
	if versionsErr != nil {
		return "", versionsErr
	}
	v, ok := versions[key]
	if !ok {
		return "", fmt.Errorf("versions.env: no %s", key)
	}
	return v, nil
}

// CacheDir is where scripts/e2e/build-tools.sh caches binaries.
func CacheDir() string {
	if d := os.Getenv("SIDECARIZE_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "sidecarize")
}

// Tool finds a binary: $ENVVAR if set, else the cached build
// <cache>/bin/<name>-<version of versionKey> (when versionKey != ""),
// else <name> on PATH. The error says how to get it.
func Tool(envVar, name, versionKey string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", envVar, p, err)
		}
		return p, nil
	}
	if versionKey != "" {
		v, err := Version(versionKey)
		if err != nil {
			return "", err
		}
		p := filepath.Join(CacheDir(), "bin", name+"-"+v)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("%s not found at %s: run scripts/deps.sh all (or set %s)", name, p, envVar)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not on PATH: run scripts/deps.sh all (or set %s)", name, envVar)
	}
	return p, nil
}
