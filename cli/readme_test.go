package cli_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/sidecarize/sidecarize/cli"
)

// The README's examples and pattern table cannot go stale: the quickstart
// files it shows are the golden case testdata/quickstart (run by
// TestGolden), and its pattern tables are `sidecarize patterns --markdown`.
// UPDATE_GOLDEN=1 rewrites the tables.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"../testdata/quickstart/config.yaml", "../testdata/quickstart/input.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(readme, b) {
			t.Errorf("README.md does not show %s as it is", f)
		}
	}
	var out, errb bytes.Buffer
	if code := cli.Run([]string{"sidecarize", "patterns", "--markdown"}, nil, &out, &errb); code != 0 {
		t.Fatalf("patterns --markdown: exit %d: %s", code, errb.String())
	}
	const begin, end = "<!-- patterns:begin -->\n", "<!-- patterns:end -->"
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", begin, end)
	}
	want := s[:i+len(begin)] + out.String() + s[j:]
	if want == s {
		return
	}
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile("../README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's pattern tables are stale: UPDATE_GOLDEN=1 go test ./cli -run TestREADME rewrites them")
}
