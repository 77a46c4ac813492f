package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
)

// TestCorpusFidelity runs `-p monitor` on the release manifests of the
// corpus (corpus_test.go), as they are and with CRLF line endings, and
// checks what a reviewer of the diff sees: every input line that does not
// come out unchanged carries an edit (internal/linediff), uninject gives
// back the input byte for byte, and injecting that again gives the same
// output. Documents written whole by the YAML emitter (a shape the splice
// does not handle) are counted and printed. It needs no cluster.
func TestCorpusFidelity(t *testing.T) {
	linediff := linediffBin(t)
	eachCorpusStream(t, func(module, name string, in []byte) {
		for _, crlf := range []bool{false, true} {
			name, data := name, in
			if crlf {
				name += " (CRLF)"
				data = bytes.ReplaceAll(in, []byte("\n"), []byte("\r\n"))
			}
			t.Run(name, func(t *testing.T) {
				fallbacks := checkFidelity(t, linediff, data)
				fmt.Printf("fidelity %s %s: %d document(s) written whole by the emitter\n", module, name, fallbacks)
			})
		}
	})
}

// checkFidelity returns the number of documents the run wrote whole.
func checkFidelity(t *testing.T, linediff string, in []byte) int {
	t.Helper()
	bin := sidecarizeBin(t)
	run := func(stdin []byte, args ...string) ([]byte, []byte) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		// Every spliced document is read back and compared with the
		// edited tree (off outside tests: transform/splice.go).
		cmd.Env = append(os.Environ(), "SIDECARIZE_VERIFY=1")
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sidecarize %v: %v\n%s", args, err, stderr.String())
		}
		return out, stderr.Bytes()
	}
	out, stderr := run(in, "-p", "monitor", "--report", "json")
	var rep struct {
		Reencoded []struct{ Where, Object, Message string }
	}
	if err := json.Unmarshal(stderr, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stderr)
	}
	for _, r := range rep.Reencoded {
		t.Logf("written whole: %s %s: %s", r.Where, r.Object, r.Message)
	}

	dir := t.TempDir()
	inFile, outFile := filepath.Join(dir, "in.yaml"), filepath.Join(dir, "out.yaml")
	if err := os.WriteFile(inFile, in, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outFile, out, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(linediff, inFile, outFile)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("lines changed without an edit (%v):\n%s", err, msg)
	}

	back, _ := run(out, "uninject", "--report", "none")
	if !bytes.Equal(back, in) {
		t.Errorf("uninject does not give back the input byte for byte:\n%s", firstDiff(in, back))
	}
	if again, _ := run(back, "-p", "monitor", "--report", "none"); !bytes.Equal(again, out) {
		t.Errorf("injecting the uninjected output again gives another output:\n%s", firstDiff(out, again))
	}
	return len(rep.Reencoded)
}

// firstDiff shows the first differing line of two streams.
func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y || i >= len(la) || i >= len(lb) {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, x, y)
		}
	}
	return "(same lines)"
}

var (
	linediffOnce sync.Once
	linediffPath string
	linediffErr  error
)

// linediffBin builds the repository's line-diff checker (it lives in the
// main module, which this module does not import).
func linediffBin(t *testing.T) string {
	t.Helper()
	linediffOnce.Do(func() {
		linediffPath = filepath.Join(scratch, "bin", "linediff")
		cmd := exec.Command("go", "build", "-o", linediffPath, "./internal/linediff/cmd/linediff")
		cmd.Dir = env.RepoRoot()
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			linediffErr = fmt.Errorf("building linediff: %v\n%s", err, out)
		}
	})
	if linediffErr != nil {
		t.Fatal(linediffErr)
	}
	return linediffPath
}
