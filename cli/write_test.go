package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file -i read that someone changed before the outputs are renamed over
// their targets is not overwritten, and neither is any other file.
func TestChangedSinceRead(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write := func(name, s string) {
		if err := os.WriteFile(name, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "old a\n")
	write(b, "edited b\n") // sidecarize read "old b"
	_, err := writeTargets([]*target{
		{name: a, data: []byte("new a\n"), read: []byte("old a\n")},
		{name: b, data: []byte("new b\n"), read: []byte("old b\n")},
	})
	if err == nil || !strings.Contains(err.Error(), b+": changed since sidecarize read it") {
		t.Fatalf("got %v", err)
	}
	for name, want := range map[string]string{a: "old a\n", b: "edited b\n"} {
		if got, _ := os.ReadFile(name); string(got) != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".sidecarize-*")); len(left) > 0 {
		t.Errorf("staged files left: %v", left)
	}
	// Unchanged since read: written.
	write(b, "old b\n")
	if _, err := writeTargets([]*target{{name: b, data: []byte("new b\n"), read: []byte("old b\n")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b); string(got) != "new b\n" {
		t.Errorf("b: %q", got)
	}
}
