// Package demo_test is the golden-file check of the committed demo outputs:
// it regenerates every output directory in memory with the same command line
// as demo/Makefile and fails when a committed file is stale, missing or
// extra. This is the CI check users copy for their own manifests:
//
//	sidecarize -c sidecarize.yaml app/ -o out/ && git diff --exit-code out/
//
// UPDATE_GOLDEN=1 go test ./demo/ rewrites the outputs (as `make -C demo
// generate` does). Each output is also checked to be a fixed point: running
// sidecarize with the same config on it changes nothing (--check).
package demo_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sidecarize/sidecarize/cli"
)

// outputs are the generated directories: config, input dir, output dir,
// relative to demo/. Keep in sync with demo/Makefile.
var outputs = []struct{ config, input, output string }{
	{"productionise/v1.yaml", "productionise/initial", "productionise/v1"},
	{"productionise/v2.yaml", "productionise/initial", "productionise/v2"},
	{"productionise/v3.yaml", "productionise/initial", "productionise/v3"},
	{"widgetario/sidecarize.yaml", "widgetario/before", "widgetario/out"},
}

func TestOutputsUpToDate(t *testing.T) {
	for _, o := range outputs {
		t.Run(o.output, func(t *testing.T) {
			tmp := t.TempDir()
			var stderr bytes.Buffer
			if code := cli.Run([]string{"sidecarize", "--report", "none", "-c", o.config, o.input, "-o", tmp}, nil, &bytes.Buffer{}, &stderr); code != 0 {
				t.Fatalf("sidecarize -c %s %s: exit %d\n%s", o.config, o.input, code, stderr.String())
			}
			want := readTree(t, tmp)
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.RemoveAll(o.output); err != nil {
					t.Fatal(err)
				}
				for name, data := range want {
					p := filepath.Join(o.output, name)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			got := readTree(t, o.output)
			for name, data := range want {
				g, ok := got[name]
				switch {
				case !ok:
					t.Errorf("%s/%s is missing; run `make -C demo generate` (or UPDATE_GOLDEN=1 go test ./demo/)", o.output, name)
				case !bytes.Equal(g, data):
					t.Errorf("%s/%s is stale: regenerate with `make -C demo generate` (or UPDATE_GOLDEN=1 go test ./demo/)\n%s", o.output, name, firstDiff(g, data))
				}
			}
			for name := range got {
				if _, ok := want[name]; !ok {
					t.Errorf("%s/%s is not generated from %s: remove it", o.output, name, o.input)
				}
			}
		})
	}
}

// TestOutputsIdempotent runs each config again on its committed output:
// nothing may change.
func TestOutputsIdempotent(t *testing.T) {
	for _, o := range outputs {
		t.Run(o.output, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Run([]string{"sidecarize", "--report", "none", "--check", "-c", o.config, o.output}, nil, &stdout, &stderr)
			if code != 0 {
				var diff bytes.Buffer
				cli.Run([]string{"sidecarize", "--report", "none", "--diff", "-c", o.config, o.output}, nil, &diff, &bytes.Buffer{})
				t.Errorf("sidecarize --check -c %s %s: exit %d (want 0: a second run must change nothing)\n%s%s", o.config, o.output, code, stderr.String(), diff.String())
			}
		})
	}
}

// readTree reads every file under dir, keyed by slash path relative to dir.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil && !(os.IsNotExist(err) && os.Getenv("UPDATE_GOLDEN") != "") {
		t.Fatal(err)
	}
	return out
}

// firstDiff shows the first differing line of got (committed) and want
// (regenerated).
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n  committed:   " + gl + "\n  regenerated: " + wl
		}
	}
	return ""
}

// TestUninjectRestoresInput: `sidecarize uninject` on each committed output
// gives back the input manifests (a rewritten document ends with a newline
// where an input file may not, so that alone is ignored).
func TestUninjectRestoresInput(t *testing.T) {
	for _, o := range outputs {
		t.Run(o.output, func(t *testing.T) {
			tmp := t.TempDir()
			var stderr bytes.Buffer
			if code := cli.Run([]string{"sidecarize", "uninject", "--report", "none", o.output, "-o", tmp}, nil, &bytes.Buffer{}, &stderr); code != 0 {
				t.Fatalf("sidecarize uninject %s: exit %d\n%s", o.output, code, stderr.String())
			}
			got, want := readTree(t, tmp), readTree(t, o.input)
			for name, w := range want {
				g, ok := got[name]
				if !ok {
					t.Errorf("uninject %s: %s missing", o.output, name)
					continue
				}
				if !bytes.Equal(bytes.TrimRight(g, "\n"), bytes.TrimRight(w, "\n")) {
					t.Errorf("uninject %s: %s differs from %s/%s\n%s", o.output, name, o.input, name, firstDiff(g, w))
				}
			}
			if len(got) != len(want) {
				t.Errorf("uninject %s: %d files, want %d", o.output, len(got), len(want))
			}
		})
	}
}
