package transform

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// compareQuick parses a document both ways: a quick tree must be
// yaml.v3's tree, and only of a document yaml.v3 reads.
func compareQuick(t testing.TB, name string, raw []byte) (quick bool) {
	t.Helper()
	q := quickParse(raw)
	if q == nil {
		return false
	}
	var slow yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&slow)
	if err != nil {
		t.Fatalf("%s: the quick reader read a document yaml.v3 refuses (%v):\n%s", name, err, raw)
	}
	if d := sameParse(q, &slow, ""); d != "" {
		t.Fatalf("%s: %s\n%s", name, d, raw)
	}
	return true
}

// quickRead: shapes manifests are written in, which the quick reader must
// take (else the fast path is not taken where it matters).
var quickRead = []string{
	"a: 1\n",
	"# head\napiVersion: v1\nkind: Service # lc\nmetadata:\n  name: x\n  labels:\n    app: y # lc2\n  # before ann\n  annotations: {a: b} # flowlc\nspec:\n  ports:\n  # before item\n  - name: http # item lc\n    port: 80\n  # after the list\n  x: 1\n",
	"# head\n\napiVersion: v1\nkind: Service\n",
	"# one\n# two\n\n# three\na: 1\n",
	"a:\n  b: 1\n# c\nd: 2\n",
	"a: # on a\n  b: 1\nl: # on l\n- x # on x\n- y\n",
	"a:\n  - b # q\n  # c\n  - d\ne:\n- f\n# g\n- h\n",
	"a: |\n  lit # not\n  two\nb: 'it''s' # sq\nc: \"x\\ty\\u00e9\" # dq\nd: [a, \"b\", {c: d}, []] # fl\ne:\n  f: [ \"ReadWriteOnce\" ]\n",
	"a:\nb:   \nc: 1\n",
	"k:\n  - a: 1\n    b: |-\n      x\n\n      y\n    c: 2\n  - b\n",
	"k: |+\n  x\n\nz: 1\n",
	"a:\n- |\n  x\n- b\nc:\n  - |-\n    x\n  - |\n   y\n  - |\n      deep\n     \n      er\n",
	"k:   v   # c\nk2: \"x\"   \n",
	"n:\n- 1\n- 2.5\n- -3\n- 0x1F\n- 0o17\n- 08\n- 1_000\n- .5\n- +.inf\n- .nan\n- 2001-12-14\n- 2001-12-14t21:59:43.10-05:00\n- 2001-12-14 21:59:43.10\n- 1e3\n- -0b101\n- 0b2\n- 0b101\n- -0o17\n- 9223372036854775808\n- 18446744073709551616\n- .\n- +1\n- 1.\n- 0.1.2\n- 50m\n- 1Gi\n- 0777\n- 1__0\n- _1\n- 1_\n- -_1\n- 0x_1F\n- 1e\n- +.5e-3\n- 123456789012345678\n- 1234567890123456789\n",
	"b: [true, True, TRUE, yes, on, null, Null, ~, '', \"\", false, n]\n",
	"s: {cpu: 50m, memory: 64Mi}\nt: [\"--port=8080\", '--x']\n",
	"empty: {}\nlist: []\nnested: {a: [b, {c: d}]}\n",
	"\"quoted key\": v\n'single': w\n80: port\ntrue: yes\n",
	"k: a:b\nu: http://x/y#z\n",
	"spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        args:\n        - --a\n        - \"--b=c\"\n        env:\n        - {name: A, value: \"1\"}\n",
}

// quickCases: quickRead and shapes it may leave to yaml.v3.
var quickCases = append(quickRead[:len(quickRead):len(quickRead)],
	"k: v\n",
	"k: v",
	"k: "+strings.Repeat("[", 300)+strings.Repeat("]", 300)+"\n",
	strings.Repeat("k", 1100)+": v\n",
	"k: |\n  x\n  y",
	"k: |\n  x\n\n\n",
	"k: |-\n    deeper\n  x: 1\n",
	"- a\n- b\n",
	"k: 'a\n  b'\n",
	"k: a\n  b\n",
	"k: &x 1\nj: *x\n",
	"k: !!str 1\n",
	"<<: {a: b}\n",
	"k: v\n# foot\n",
	"k: v\n\n# c\n\nj: w\n",
	"\n\n# c\nk: v\n",
	"# a\n\n\n# b\nk: v\n",
	"k:\n- - a\n",
	"k: \"a\\/b\"\n",
	"k: \"\\x41\"\n",
	"k: [a,\n  b]\n",
	"k: [a, b,]\n",
	"k: {a: 1, a: 2}\n",
	"k: 1\nk: 2\n",
	"a:\n  b: 1\n c: 2\n",
	"a: 1\n- x\n",
	"a:\n  - x\n  b: 1\n",
	"key:value\n",
	"k: -1\nj: -x\ni: - y\n",
	"k: -\n",
	"? x\n: y\n",
	"...\n",
	"a: 1\n... x: 1\n",
	"k:\n- a\n... x: 1\n",
	"a: 1\n--- x: 1\n",
	"a: 1\n...\n",
	"a: 1\n...x: 1\n",
	"a: 1\n---x: 1\n",
	"k: {a: }\n",
	"k: [a: b]\n",
	"k: \"unterminated\n",
	"k: 'x'y\n",
	"k: \"x\"# c\n",
	"k: v #c\n",
	"k: v#c\n",
	"a:\n    b: 1\n    c:\n      - x\n      - y\nd: 2\n",
)

func TestQuickParseCases(t *testing.T) {
	n := 0
	for i, c := range quickCases {
		if compareQuick(t, fmt.Sprintf("case %d", i), []byte(c)) {
			n++
		}
	}
	t.Logf("%d of %d cases read by the quick reader", n, len(quickCases))
	for i, c := range quickRead {
		if quickParse([]byte(c)) == nil {
			t.Errorf("case %d falls back to yaml.v3:\n%s", i, c)
		}
	}
}

// testdataDocs calls fn with every document of every YAML file of the
// repository's testdata.
func testdataDocs(t testing.TB, fn func(d *Doc)) {
	for _, root := range []string{"../testdata", "../demo", "../internal/fuzz/testdata", "testdata"} {
		filepath.WalkDir(root, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range SplitStream(path, b) {
				fn(d)
			}
			return nil
		})
	}
}

// TestQuickParseTestdata reads every document of the repository's
// testdata both ways.
func TestQuickParseTestdata(t *testing.T) {
	var docs, quick int
	testdataDocs(t, func(d *Doc) {
		docs++
		if compareQuick(t, d.Where(), d.Raw) {
			quick++
		}
	})
	if docs < 100 {
		t.Fatalf("only %d documents found", docs)
	}
	t.Logf("%d of %d documents read by the quick reader", quick, docs)
}

// FuzzQuickParse: whatever the bytes, a tree the quick reader builds is
// yaml.v3's. Seeded with the cases and the testdata documents.
func FuzzQuickParse(f *testing.F) {
	for _, c := range quickCases {
		f.Add([]byte(c))
	}
	testdataDocs(f, func(d *Doc) { f.Add(d.Raw) })
	f.Fuzz(func(t *testing.T, b []byte) {
		// yaml.v3's comment scanning is slow on long inputs (a run
		// stalled in yaml_parser_scan_to_next_token on a grown input):
		// shapes, not sizes, are what this compares.
		if len(b) > 16<<10 {
			return
		}
		compareQuick(t, "input", b)
	})
}
