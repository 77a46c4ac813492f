package env

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
)

// HAProxy is one binary of the version matrix the suite runs every
// generated HAProxy config on.
type HAProxy struct {
	Version string // major.minor, e.g. "3.4"
	Path    string
}

// Name is "haproxy-<version>", for subtest names.
func (h HAProxy) Name() string { return "haproxy-" + h.Version }

var (
	haproxyOnce sync.Once
	haproxies   []HAProxy
	haproxyErr  error
)

// HAProxies is the matrix: Debian 12's HAProxy 2.6 ($HAPROXY26_BIN, else
// /usr/sbin/haproxy, else haproxy on PATH; scripts/deps.sh installs it) and
// 3.4, the default image's branch ($HAPROXY34_BIN, else
// shared/tools/haproxy-3.4.0/haproxy beside the checkout or beside the
// directory holding it). Both must be there and report their version: a
// config that only one of them runs fails the suite.
func HAProxies() ([]HAProxy, error) {
	haproxyOnce.Do(func() {
		for _, want := range []struct{ version, env, def, path string }{
			{"2.6", "HAPROXY26_BIN", "/usr/sbin/haproxy", "haproxy"},
			{"3.4", "HAPROXY34_BIN", sharedTool("haproxy-3.4.0", "haproxy"), ""},
		} {
			p, err := findHAProxy(want.version, want.env, want.def, want.path)
			if err != nil {
				haproxyErr = err
				return
			}
			haproxies = append(haproxies, HAProxy{Version: want.version, Path: p})
		}
	})
	return haproxies, haproxyErr
}

// DemoHAProxy is the binary `make demo` runs: $HAPROXY_BIN if set, else
// HAProxy 3.4 (the default image's branch) when it is there, else 2.6.
func DemoHAProxy() (HAProxy, error) {
	if p := os.Getenv("HAPROXY_BIN"); p != "" {
		return HAProxyAt(p)
	}
	var last error
	for _, want := range []struct{ version, env, def, path string }{
		{"3.4", "HAPROXY34_BIN", sharedTool("haproxy-3.4.0", "haproxy"), ""},
		{"2.6", "HAPROXY26_BIN", "/usr/sbin/haproxy", "haproxy"},
	} {
		p, err := findHAProxy(want.version, want.env, want.def, want.path)
		if err == nil {
			return HAProxy{Version: want.version, Path: p}, nil
		}
		last = err
	}
	return HAProxy{}, last
}

// HAProxyAt is the binary at path (or named on PATH), with its version.
func HAProxyAt(path string) (HAProxy, error) {
	bin, err := exec.LookPath(path)
	if err != nil {
		return HAProxy{}, err
	}
	v, err := haproxyVersion(bin)
	return HAProxy{Version: v, Path: bin}, err
}

// findHAProxy resolves $envVar, else def when it exists, else onPath on
// PATH, and checks the binary reports the version.
func findHAProxy(version, envVar, def, onPath string) (string, error) {
	p := os.Getenv(envVar)
	if p == "" {
		p = def
		if _, err := os.Stat(def); (def == "" || err != nil) && onPath != "" {
			p = onPath
		}
	}
	bin, err := exec.LookPath(p)
	if p == "" || err != nil {
		return "", fmt.Errorf("HAProxy %s not found (%q): set %s (scripts/deps.sh installs 2.6; CI has 3.4 in shared/tools beside the checkout)", version, p, envVar)
	}
	v, err := haproxyVersion(bin)
	if err != nil {
		return "", err
	}
	if v != version {
		return "", fmt.Errorf("%s is HAProxy %s, want %s (%s)", bin, v, version, envVar)
	}
	return reachable(bin)
}

var haproxyVersionRE = regexp.MustCompile(`(?m)^HA-?Proxy version (\d+\.\d+)\.`)

// haproxyVersion is the major.minor `bin -v` reports.
func haproxyVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "-v").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -v: %v\n%s", bin, err, out)
	}
	m := haproxyVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		return "", fmt.Errorf("%s -v: no version in %q", bin, out)
	}
	return m[1], nil
}

// sharedTool is shared/tools/<elem...> beside the checkout, or beside the
// directory holding it (a git worktree); "" if neither exists.
func sharedTool(elem ...string) string {
	for _, up := range []string{"..", "../.."} {
		p := filepath.Join(append([]string{RepoRoot(), up, "shared", "tools"}, elem...)...)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
