package fuzz

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/cli"
	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// aCase is a golden case: its input stream and config, if any.
type aCase struct {
	name   string
	input  []byte
	config []byte
}

// goldenCases reads every golden case of the repository (testdata/ and the
// patterns' testdata/), the seeds the mutations start from.
func goldenCases(tb testing.TB) []aCase {
	tb.Helper()
	var dirs []string
	for _, glob := range []string{"../../testdata/*/input.yaml", "../../patterns/*/testdata/*/input.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			tb.Fatal(err)
		}
		dirs = append(dirs, m...)
	}
	sort.Strings(dirs)
	if len(dirs) < 20 {
		tb.Fatalf("found %d golden inputs: run from internal/fuzz", len(dirs))
	}
	var out []aCase
	for _, in := range dirs {
		dir := filepath.Dir(in)
		b, err := os.ReadFile(in)
		if err != nil {
			tb.Fatal(err)
		}
		c := aCase{name: dir, input: b}
		if cfg, err := os.ReadFile(filepath.Join(dir, "config.yaml")); err == nil {
			c.config = cfg
		}
		out = append(out, c)
	}
	return out
}

// FuzzStructure mutates the node trees of the golden inputs (and their
// configs) and runs the result through inject (annotations, -p, the config,
// --set), uninject and KRM mode. The fuzzer's bytes are a mutation program:
// which case, which nodes, which mutation (mappings, sequences and scalars
// swapped, nulls, aliases, duplicate keys, huge numbers, odd strings in
// option annotations and --set, kinds swapped). Invariants: nothing
// panics; a run fails with an error or writes a stream that parses, runs
// again without error and (inject) is stable.
func FuzzStructure(f *testing.F) {
	cases := goldenCases(f)
	for i := range cases {
		f.Add(uint16(i), []byte{})
		f.Add(uint16(i), []byte{byte(i), 0, 3, 1, 10, 7})
		f.Add(uint16(i), []byte{5, byte(i * 7), 2, 6, byte(i), 9, 14, 3, 12})
	}
	f.Fuzz(func(t *testing.T, pick uint16, prog []byte) {
		c := cases[int(pick)%len(cases)]
		m := newMutator(prog)
		input, ok := m.stream(c.input)
		if !ok {
			return
		}
		config := c.config
		if len(config) > 0 && m.chance(4) {
			if config, ok = m.stream(config); !ok {
				return
			}
		}
		check(t, c.name, input, config, m)
	})
}

// check runs every front end on the mutated input.
func check(t *testing.T, name string, input, config []byte, m *mutator) {
	all := patterns.All()
	names := make([]string, len(all))
	for i, p := range all {
		names[i] = p.Name()
	}
	var cfg *transform.Config
	if len(config) > 0 {
		c, err := transform.LoadConfig("config.yaml", config, all)
		if err == nil {
			cfg = c
		}
	}
	set := m.setFlag()
	engines := map[string]*transform.Engine{
		"annotations": {Patterns: all, Version: "fuzz"},
		"-p":          {Patterns: all, Version: "fuzz", Flags: transform.Flags{Patterns: m.some(names), Set: set}},
		"config":      {Patterns: all, Version: "fuzz", Config: cfg},
		"uninject":    {Patterns: all, Version: "fuzz", Uninject: true, Config: cfg},
	}
	for mode, e := range engines {
		out, rep, err := e.Process("input.yaml", input)
		if err != nil {
			continue
		}
		// Test binaries re-read every splice; one that does not read back
		// falls back to the emitter here but is written by a normal run.
		for _, r := range rep.Reencoded {
			if strings.HasPrefix(r.Message, "the spliced document") {
				t.Fatalf("%s (%s): %s: %s (a normal run writes this splice)\ninput:\n%s", name, mode, r.Where, r.Message, input)
			}
		}
		if _, err := (&kio.ByteReader{Reader: bytes.NewReader(out), OmitReaderAnnotations: true}).Read(); err != nil {
			t.Fatalf("%s (%s): the output does not parse: %v\ninput:\n%s\noutput:\n%s", name, mode, err, input, out)
		}
		again, _, err := e.Process("output.yaml", out)
		if err != nil {
			t.Fatalf("%s (%s): the second run fails: %v\ninput:\n%s\noutput:\n%s", name, mode, err, input, out)
		}
		if mode != "uninject" && !bytes.Equal(again, out) {
			t.Fatalf("%s (%s): not idempotent\ninput:\n%s\nfirst:\n%s\nsecond:\n%s", name, mode, input, out, again)
		}
	}
	// KRM mode: the documents as a ResourceList's items, through the CLI.
	rl, ok := resourceList(input, config, m)
	if !ok {
		return
	}
	args := []string{"sidecarize", "fn"}
	if m.chance(2) {
		args = append(args, "-p", strings.Join(m.some(names), ","))
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run(args, bytes.NewReader(rl), &stdout, &stderr)
	if code != 0 && code != 1 || strings.Contains(stderr.String(), "internal error") {
		t.Fatalf("%s (KRM %v): exit %d\nstderr:\n%s\nstdin:\n%s", name, args[2:], code, stderr.String(), rl)
	}
}

// resourceList wraps the documents of a stream as a ResourceList's items,
// with the config as its functionConfig now and then.
func resourceList(input, config []byte, m *mutator) ([]byte, bool) {
	items := &yaml.Node{Kind: yaml.SequenceNode}
	dec := yaml.NewDecoder(bytes.NewReader(input))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err == io.EOF {
			break
		} else if err != nil {
			return nil, false
		}
		if len(n.Content) == 1 {
			items.Content = append(items.Content, n.Content[0])
		}
	}
	rl := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalar("apiVersion"), scalar("config.kubernetes.io/v1"),
		scalar("kind"), scalar("ResourceList"),
		scalar("items"), items,
	}}
	if len(config) > 0 && m.chance(2) {
		var fc yaml.Node
		if yaml.Unmarshal(config, &fc) == nil && len(fc.Content) == 1 {
			rl.Content = append(rl.Content, scalar("functionConfig"), fc.Content[0])
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(rl); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// TestMutatorChangesInputs guards the fuzzer itself: programs do change
// the golden inputs, in every way the mutator knows.
func TestMutatorChangesInputs(t *testing.T) {
	cases := goldenCases(t)
	changed := 0
	for op := 0; op < numOps; op++ {
		for i, c := range cases {
			m := newMutator([]byte{byte(op), byte(i), byte(op * 3), byte(op), byte(i + 1), byte(op * 5)})
			out, ok := m.stream(c.input)
			if ok && !bytes.Equal(out, c.input) {
				changed++
				break
			}
		}
	}
	if changed < numOps-1 {
		t.Errorf("only %d of %d mutations change any golden input", changed, numOps)
	}
}
