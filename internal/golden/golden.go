// Package golden runs golden cases: testdata/<case>/{config.yaml,input.yaml}
// against expected.yaml (or errors.txt for cases that must fail). Every case
// also runs on its own output (idempotency) and through uninject (the input's
// objects come back, or uninjected.yaml's when the input is itself an
// injected output). UPDATE_GOLDEN=1 rewrites the expected files; a stale
// golden fails. Every generated haproxy.cfg is checked by the real
// `haproxy -c` of every version of the matrix (haproxy.go).
package golden

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sidecarize/sidecarize/internal/linediff"
	"github.com/sidecarize/sidecarize/transform"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigyaml "sigs.k8s.io/yaml"
)

// Update reports whether goldens are being rewritten.
func Update() bool { return os.Getenv("UPDATE_GOLDEN") != "" }

// Run runs every case under dir (e.g. "testdata").
func Run(t *testing.T, dir string, patterns []transform.Pattern) {
	t.Helper()
	cases, err := filepath.Glob(filepath.Join(dir, "*", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no golden cases under %s", dir)
	}
	for _, in := range cases {
		caseDir := filepath.Dir(in)
		t.Run(filepath.Base(caseDir), func(t *testing.T) { runCase(t, caseDir, patterns) })
	}
}

// Engine builds the engine for a case directory from its config.yaml.
func Engine(t *testing.T, caseDir string, patterns []transform.Pattern) *transform.Engine {
	t.Helper()
	e, err := engine(caseDir, patterns)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return e
}

func engine(caseDir string, patterns []transform.Pattern) (*transform.Engine, error) {
	e := &transform.Engine{Patterns: patterns, Version: "test"}
	if b, err := os.ReadFile(filepath.Join(caseDir, "config.yaml")); err == nil {
		cfg, err := transform.LoadConfig("config.yaml", b, patterns)
		if err != nil {
			return nil, err
		}
		e.Config = cfg
	}
	return e, nil
}

func runCase(t *testing.T, caseDir string, patterns []transform.Pattern) {
	input, err := os.ReadFile(filepath.Join(caseDir, "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	errFile := filepath.Join(caseDir, "errors.txt")
	// A config error is the case's error (a bad-config case).
	e, err := engine(caseDir, patterns)
	var out []byte
	var rep *transform.Report
	var direct trees
	if err == nil {
		direct = countTrees(func() { out, rep, err = e.Process("input.yaml", input) })
	}
	if err != nil {
		compare(t, errFile, []byte(err.Error()+"\n"))
		// A failing case has no expected output: a leftover one is stale.
		exp := filepath.Join(caseDir, "expected.yaml")
		if _, statErr := os.Stat(exp); statErr == nil {
			if Update() {
				_ = os.Remove(exp)
			} else {
				t.Errorf("%s: the case fails (errors.txt) but an expected.yaml is left over", caseDir)
			}
		}
		return
	}
	if _, statErr := os.Stat(errFile); statErr == nil && !Update() {
		t.Fatalf("expected an error (errors.txt), got none")
	}
	compare(t, filepath.Join(caseDir, "expected.yaml"), out)
	// Documents written whole by the emitter (a shape the splice does not
	// handle) are listed in reencoded.txt, so that each one is deliberate.
	var reencoded strings.Builder
	for _, m := range rep.Reencoded {
		fmt.Fprintf(&reencoded, "%s %s: %s\n", m.Where, m.Object, m.Message)
		// Test binaries re-read every spliced document (verifySplice); a
		// splice that does not read back is a bug a normal run would
		// write, never a deliberate fallback.
		if strings.HasPrefix(m.Message, "the spliced document") {
			t.Errorf("%s %s: %s (a normal run writes this splice)", m.Where, m.Object, m.Message)
		}
	}
	compareOptional(t, filepath.Join(caseDir, "reencoded.txt"), reencoded.String())
	// The warnings, as the text report writes them: each one deliberate.
	var text, warnings strings.Builder
	rep.WriteText(&text)
	for _, line := range strings.SplitAfter(text.String(), "\n") {
		if strings.Contains(line, ": warning: ") {
			warnings.WriteString(line)
		}
	}
	compareOptional(t, filepath.Join(caseDir, "warnings.txt"), warnings.String())

	// Written to stdout, the CLI keeps finished documents in a spool file:
	// the same bytes.
	if spooled := processSpooled(t, e, input); !bytes.Equal(spooled, out) {
		t.Errorf("the output through a spool differs (-memory +spool):\n%s", cmp.Diff(string(out), string(spooled)))
	}

	// Generated objects are written without the YAML emitter
	// (transform/emitgen.go): all of them, the same bytes as the emitter's.
	emitterSame(t, e, "input.yaml", input, out, direct, rep)

	// Idempotency: running on the output changes nothing.
	var again []byte
	var againRep *transform.Report
	direct = countTrees(func() { again, againRep, err = e.Process("expected.yaml", out) })
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	emitterSame(t, e, "expected.yaml", out, again, direct, againRep)
	if d := cmp.Diff(string(out), string(again)); d != "" {
		t.Errorf("not idempotent: second run differs (-first +second):\n%s", d)
	}

	// Uninject restores the input's objects. A case whose input is itself an
	// injected output (of an earlier version) gives the original in
	// uninjected.yaml: uninjecting the input and the output both give it.
	un := Engine(t, caseDir, patterns) // the config's podTemplates are needed for CRDs
	un.Uninject = true
	restored, _, err := un.Process("expected.yaml", out)
	if err != nil {
		t.Fatalf("uninject: %v", err)
	}
	original := input
	uninjectedFile, _ := os.ReadFile(filepath.Join(caseDir, "uninjected.yaml"))
	var fromInput []byte
	if b := uninjectedFile; b != nil {
		original = b
		fromInput, _, err = un.Process("input.yaml", input)
		if err != nil {
			t.Fatalf("uninject of the input: %v", err)
		}
		if d := cmp.Diff(Normalize(t, original), Normalize(t, fromInput)); d != "" {
			t.Errorf("uninject of the input does not give uninjected.yaml (-uninjected.yaml +got):\n%s", d)
		}
	}
	// Fidelity: what is not edited comes out byte for byte (lines of an
	// earlier injection in the input may go), unless a document was
	// written whole.
	base := input
	if uninjectedFile != nil {
		base = fromInput
	}
	spliced := len(rep.Reencoded) == 0
	for _, m := range linediff.CheckExcept(input, out, base) {
		if spliced {
			t.Errorf("fidelity: %s", m)
		}
	}
	if d := cmp.Diff(Normalize(t, original), Normalize(t, restored)); d != "" {
		t.Errorf("uninject does not restore the input (-input +uninjected):\n%s", d)
	} else if uninjectedFile == nil && spliced && !bytes.Equal(input, restored) {
		// An input that is not itself an injected output comes back byte
		// for byte, and injecting it again gives the same output.
		t.Errorf("uninject restores the input's objects but not its bytes (-input +uninjected):\n%s", cmp.Diff(string(input), string(restored)))
	}
	if again, _, err := e.Process("restored.yaml", restored); err != nil || !bytes.Equal(again, out) {
		t.Errorf("injecting the uninjected output again does not give the output (err %v):\n%s", err, cmp.Diff(string(out), string(again)))
	}
	KubectlReads(t, out)
	CheckHAProxy(t, out)
}

// KubectlReads checks that kubectl reads every document of the stream as
// sidecarize wrote it: kubectl's YAML reader (sigs.k8s.io/yaml, YAML 1.1)
// takes a plain yes, on, y or 0x1p-2 for a boolean or a number where a
// YAML 1.2 reader sees a string (a label value the API server then refuses,
// a key "on" that becomes "true").
func KubectlReads(t *testing.T, stream []byte) {
	t.Helper()
	for _, d := range transform.SplitStream("output", stream) {
		if len(bytes.TrimSpace(d.Raw)) == 0 {
			continue
		}
		js, err := sigyaml.YAMLToJSON(d.Raw)
		if err != nil {
			t.Errorf("%s: kubectl's reader: %v", d.Where(), err)
			continue
		}
		var meant any
		if err := yaml.Unmarshal(d.Raw, &meant); err != nil {
			t.Errorf("%s: %v", d.Where(), err)
			continue
		}
		mj, err := json.Marshal(meant)
		if err != nil {
			t.Errorf("%s: %v", d.Where(), err)
			continue
		}
		var got, want any
		if json.Unmarshal(js, &got) != nil || json.Unmarshal(mj, &want) != nil {
			t.Errorf("%s: not JSON", d.Where())
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: kubectl reads it differently (-written +kubectl):\n%s", d.Where(), diff)
		}
	}
}

// processSpooled runs the case as the CLI writing to stdout does.
func processSpooled(t *testing.T, e *transform.Engine, input []byte) []byte {
	t.Helper()
	spool := transform.NewSpool()
	if spool == nil {
		t.Fatal("no spool: the temporary directory is not writable")
	}
	defer spool.Close()
	docs := transform.SplitStream("input.yaml", input)
	transform.UseSpool(docs, spool)
	if _, err := e.Run(docs); err != nil {
		t.Fatalf("spooled run: %v", err)
	}
	s, err := transform.Collect(docs)
	if err != nil {
		t.Fatalf("spooled run: %v", err)
	}
	var buf bytes.Buffer
	if _, err := s.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// trees counts the YAML trees a run wrote directly and by the emitter.
type trees struct{ direct, emitter int64 }

// countTrees counts the trees run writes. The golden cases run one at a
// time, and before any parallel test: nothing else writes meanwhile.
func countTrees(run func()) trees {
	d0, e0 := transform.TreeWrites()
	run()
	d1, e1 := transform.TreeWrites()
	return trees{d1 - d0, e1 - e0}
}

// emitterSame checks that a run (out) wrote every YAML tree directly but
// the documents written whole (rep.Reencoded), and that with the YAML
// emitter writing them the output is the same bytes.
func emitterSame(t *testing.T, e *transform.Engine, name string, input, out []byte, n trees, rep *transform.Report) {
	t.Helper()
	if n.emitter > int64(len(rep.Reencoded)) {
		t.Errorf("%s: %d YAML trees (generated objects) written by the emitter, not directly (transform/emitgen.go gave up on them)",
			name, n.emitter-int64(len(rep.Reencoded)))
	}
	transform.DirectWrite(false)
	defer transform.DirectWrite(true)
	slow, _, err := e.Process(name, input)
	if err != nil {
		t.Fatalf("%s with the emitter: %v", name, err)
	}
	if !bytes.Equal(slow, out) {
		t.Errorf("%s: generated objects written directly differ from the emitter's (-emitter +direct):\n%s", name, cmp.Diff(string(slow), string(out)))
	}
}

// compare checks got against a golden file, or rewrites it with UPDATE_GOLDEN.
func compare(t *testing.T, file string, got []byte) {
	t.Helper()
	if Update() {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)\ngot:\n%s", err, got)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s is stale (-want +got; UPDATE_GOLDEN=1 rewrites):\n%s", file, d)
	}
}

// compareOptional is compare for a golden file that is absent when empty.
func compareOptional(t *testing.T, file, got string) {
	t.Helper()
	if _, err := os.Stat(file); err != nil && got == "" {
		return
	}
	if Update() && got == "" {
		_ = os.Remove(file)
		return
	}
	compare(t, file, []byte(got))
}

// Normalize parses a stream and re-encodes each object, so two streams with
// the same objects compare equal whatever their formatting. Aliases and
// merge keys are resolved (sidecarize writes them out in the documents it
// changes); TestMergeKeys checks that resolution against kubectl's reader.
func Normalize(t *testing.T, data []byte) []string {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(data), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var out []string
	for _, n := range nodes {
		if err := transform.ResolveAnchors(n.YNode()); err != nil {
			t.Fatalf("anchors: %v", err)
		}
		s, err := n.String()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// CheckHAProxy validates every ConfigMap key ending in .cfg that looks like
// an HAProxy config with the real `haproxy -c`, from a fresh directory.
func CheckHAProxy(t *testing.T, stream []byte) {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(stream), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	for _, n := range nodes {
		if n.GetKind() != "ConfigMap" {
			continue
		}
		data := n.GetDataMap()
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k != "haproxy.cfg" {
				continue
			}
			HAProxyCheck(t, n.GetName()+"/"+k, data[k])
		}
	}
}

// Object returns the objects of a stream by "Kind/name".
func Objects(t *testing.T, stream []byte) map[string]*yaml.RNode {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(stream), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	m := map[string]*yaml.RNode{}
	for _, n := range nodes {
		m[n.GetKind()+"/"+strings.TrimSpace(n.GetName())] = n
	}
	return m
}
