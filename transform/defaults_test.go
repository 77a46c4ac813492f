package transform

import (
	"regexp"
	"testing"
)

// The table of defaults has no two patterns on one port or name, and every
// name is valid where it is used.
func TestDefaultsAreUnique(t *testing.T) {
	seen := map[int32]string{}
	for k, p := range DefaultPorts {
		if o, ok := seen[p]; ok {
			t.Errorf("%s and %s both default to port %d", k, o, p)
		}
		seen[p] = k
		if p < 1024 || p > 65535 {
			t.Errorf("%s: %d: not an unprivileged port", k, p)
		}
	}
	iana := regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$`)
	dns := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	for kind, names := range DefaultNames {
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				t.Errorf("%s name %q is used twice", kind, n)
			}
			seen[n] = true
			re := dns
			if kind == "portName" {
				re = iana
			}
			if !re.MatchString(n) {
				t.Errorf("%s name %q is not valid", kind, n)
			}
		}
	}
}
