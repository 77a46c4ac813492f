package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The matrix catches what only one version refuses: a backend named like a
// frontend loads on 2.6 and is fatal on 3.3+; a warning fails everywhere.
func TestHAProxyMatrix(t *testing.T) {
	hs := RequireHAProxies(t)
	const base = `defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
`
	for _, c := range []struct {
		name, cfg string
		fails     map[string]string // version -> text of the error
	}{
		{"ok", base + "frontend app\n    bind 127.0.0.1:9080\n    default_backend be_app\nbackend be_app\n    server app 127.0.0.1:8080\n", nil},
		{"same-name", base + "frontend app\n    bind 127.0.0.1:9080\n    default_backend app\nbackend app\n    server app 127.0.0.1:8080\n",
			map[string]string{"3.4": "same name as frontend"}},
		{"warning", base + "frontend app\n    bind 127.0.0.1:9080\n    option httplog\n    default_backend be_app\nbackend be_app\n    server app 127.0.0.1:8080\n",
			map[string]string{"2.6": "warns", "3.4": "warns"}},
	} {
		dir := t.TempDir()
		f := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(f, []byte(c.cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			err := CheckConfig(h, dir, f)
			want, fails := c.fails[h.Version]
			switch {
			case fails && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("%s on %s: got %v, want an error with %q", c.name, h.Version, err, want)
			case !fails && err != nil:
				t.Errorf("%s on %s: %v", c.name, h.Version, err)
			}
		}
	}
}
