package golden

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// HAProxy is one binary of the version matrix every generated haproxy.cfg is
// checked on: a config only one version accepts fails the build.
type HAProxy struct {
	Version string // major.minor the binary must report, e.g. "3.4"
	Env     string // the environment variable that names the binary
	Path    string // the binary; "" when it was not found (Err says why)
	Err     error
}

// The matrix: Debian 12's HAProxy 2.6 (the oldest release the configs
// support; scripts/deps.sh installs it) and 3.4, the branch of the default
// image (haproxy:3.4-alpine), which refuses what 2.6 accepts silently (a
// backend named like a frontend).
var (
	matrixOnce sync.Once
	matrix     []HAProxy
)

// HAProxyMatrix locates the binaries: $HAPROXY26_BIN, else /usr/sbin/haproxy
// (Debian's), else haproxy on PATH; $HAPROXY34_BIN, else
// shared/tools/haproxy-3.4.0/haproxy beside the checkout (or beside the
// directory holding it, for git worktrees), where CI puts the build. Each
// binary must report its version.
func HAProxyMatrix() []HAProxy {
	matrixOnce.Do(func() {
		matrix = []HAProxy{
			locate("2.6", "HAPROXY26_BIN", "/usr/sbin/haproxy", "haproxy"),
			locate("3.4", "HAPROXY34_BIN", toolsPath("haproxy-3.4.0", "haproxy"), ""),
		}
	})
	return matrix
}

// RequireHAProxies returns the binaries of the matrix. A missing or wrong
// binary fails the test in CI (CI=true), and always for 2.6 (`make test`
// installs it); elsewhere a missing 3.4 is logged and left out.
func RequireHAProxies(t testing.TB) []HAProxy {
	t.Helper()
	var found []HAProxy
	for _, h := range HAProxyMatrix() {
		switch {
		case h.Err == nil:
			found = append(found, h)
		case os.Getenv("CI") == "true" || h.Version == "2.6":
			t.Fatalf("HAProxy %s: %v", h.Version, h.Err)
		default:
			t.Logf("not checked on HAProxy %s: %v", h.Version, h.Err)
		}
	}
	return found
}

var versionRE = regexp.MustCompile(`(?m)^HA-?Proxy version (\d+\.\d+)\.`)

func locate(version, env, def, onPath string) HAProxy {
	h := HAProxy{Version: version, Env: env, Path: os.Getenv(env)}
	how := "set by " + env
	if h.Path == "" {
		h.Path, how = def, "default"
		if _, err := os.Stat(def); (def == "" || err != nil) && onPath != "" {
			h.Path, how = onPath, "on PATH"
		}
	}
	if p, err := exec.LookPath(h.Path); err == nil {
		h.Path = p
	} else {
		h.Err = fmt.Errorf("no binary (%s: %q): set %s (scripts/deps.sh installs 2.6; CI has 3.4 in shared/tools beside the checkout)", how, h.Path, env)
		h.Path = ""
		return h
	}
	out, err := exec.Command(h.Path, "-v").CombinedOutput()
	m := versionRE.FindStringSubmatch(string(out))
	switch {
	case err != nil:
		h.Err = fmt.Errorf("%s -v: %v\n%s", h.Path, err, out)
	case m == nil || m[1] != version:
		h.Err = fmt.Errorf("%s (%s) is not HAProxy %s: %s", h.Path, how, version, firstLine(out))
	}
	if h.Err != nil {
		h.Path = ""
	}
	return h
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// RepoRoot is the checkout holding this package.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("golden: no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// toolsPath is shared/tools/<elem...> beside the checkout, or beside the
// directory that holds it (a git worktree), whichever exists first; "" if
// neither does.
func toolsPath(elem ...string) string {
	for _, up := range []string{"..", filepath.Join("..", "..")} {
		p := filepath.Join(append([]string{RepoRoot(), up, "shared", "tools"}, elem...)...)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// The warnings a generated config may cause in `haproxy -c`; any other
// warning fails the check, on every version:
//   - a server whose name does not resolve where the check runs (no cluster
//     DNS here): the ambassador starts such servers without an address
//     (`init-addr last,libc,none`) and its resolvers find it later;
//   - running as root without `user`/`chroot` (3.x): the containers run as
//     the image's haproxy user (uid 99), the checks may run as root.
var allowedWarnings = regexp.MustCompile(`could not resolve address|(?i)running as root|as root without`)

// HAProxyCheck runs `haproxy -c -f <tmp>/haproxy.cfg` with every binary of
// the matrix, from a fresh directory holding test certificates for the
// config's relative `crt` files. A rejection or a warning outside
// allowedWarnings is an error naming the version.
func HAProxyCheck(t *testing.T, name, cfg string) {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	writeTestCertificates(t, dir, cfg)
	for _, h := range RequireHAProxies(t) {
		if err := CheckConfig(h, dir, f); err != nil {
			t.Errorf("%s: %v\n--- config ---\n%s", name, err, cfg)
		}
	}
}

// CheckConfig runs `haproxy -c -f file` in dir with one binary: an error if
// it rejects the file or warns (outside allowedWarnings).
func CheckConfig(h HAProxy, dir, file string) error {
	cmd := exec.Command(h.Path, "-c", "-f", file)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("HAProxy %s (%s) rejects it: %v\n%s", h.Version, h.Path, err, out)
	}
	if w := Warnings(string(out)); len(w) > 0 {
		return fmt.Errorf("HAProxy %s (%s) warns:\n%s", h.Version, h.Path, strings.Join(w, "\n"))
	}
	return nil
}

// Warnings are HAProxy's [WARNING] lines in out, but for the allowed ones.
func Warnings(out string) []string {
	var w []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "[WARNING]") && !allowedWarnings.MatchString(l) {
			w = append(w, l)
		}
	}
	return w
}
