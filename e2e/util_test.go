package e2e

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
)

type bytesBuffer = bytes.Buffer

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// outputGlobs are the generated manifests every check runs on, relative to
// the repo root. "**" matches any number of directories.
var outputGlobs = []string{
	"testdata/*/expected.yaml",
	"patterns/*/testdata/*/expected.yaml",
	"demo/**/v*/*.yaml",
	"demo/**/out/*.yaml",
}

// globFiles expands patterns (with "**") relative to root; results are
// root-relative, sorted and unique.
func globFiles(root string, patterns []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, p := range patterns {
		if !strings.Contains(p, "**") {
			ms, err := filepath.Glob(filepath.Join(root, p))
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				rel, _ := filepath.Rel(root, m)
				if !seen[rel] {
					seen[rel] = true
					out = append(out, rel)
				}
			}
			continue
		}
		base, rest, _ := strings.Cut(p, "/**/")
		dir := filepath.Join(root, base)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			// rest matches the last len(rest parts) components; ** takes the rest.
			rparts := strings.Split(rest, "/")
			parts := strings.Split(filepath.ToSlash(rel), "/")
			if len(parts) < len(rparts) {
				return nil
			}
			tail := strings.Join(parts[len(parts)-len(rparts):], "/")
			if ok, _ := filepath.Match(rest, tail); ok {
				r, _ := filepath.Rel(root, path)
				if !seen[r] {
					seen[r] = true
					out = append(out, r)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// outputFiles are the generated manifests in the checkout.
func outputFiles() ([]string, error) { return globFiles(env.RepoRoot(), outputGlobs) }

// outputsAndSamples is every generated output plus the suite's own samples,
// the inputs of the pod simulator and promtool checks.
func outputsAndSamples(t *testing.T) []string {
	t.Helper()
	files, err := outputFiles()
	if err != nil {
		t.Fatal(err)
	}
	samples, err := globFiles(env.RepoRoot(), sampleGlobs)
	if err != nil {
		t.Fatal(err)
	}
	return append(files, samples...)
}
