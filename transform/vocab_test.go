package transform

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// declaredConsts returns the values of the constants of the named type
// declared in vocab.go, so that the lists below cannot miss a new one.
func declaredConsts(t *testing.T, typ string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "vocab.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != typ {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s constant is not a literal", typ)
				}
				s, _ := strconv.Unquote(lit.Value)
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

func sorted[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	sort.Strings(out)
	return out
}

func TestVocabularyListsAreComplete(t *testing.T) {
	if d := cmp.Diff(declaredConsts(t, "ServiceOp"), sorted(serviceOps)); d != "" {
		t.Errorf("serviceOps does not list every ServiceOp constant (-declared +listed):\n%s", d)
	}
	if d := cmp.Diff(declaredConsts(t, "EditOp"), sorted(editOps)); d != "" {
		t.Errorf("editOps does not list every EditOp constant (-declared +listed):\n%s", d)
	}
	if d := cmp.Diff(declaredConsts(t, "Reason"), sorted(reasons)); d != "" {
		t.Errorf("reasons does not list every Reason constant (-declared +listed):\n%s", d)
	}
}

const testService = `apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector:
    app: api
  ports:
  - port: 80
    targetPort: 8080
`

func newTestService(t *testing.T) *service {
	t.Helper()
	o := &object{node: yaml.MustParse(testService), where: "svc.yaml[0]"}
	s, err := newService(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sampleEdit is one edit of each op, built by its constructor; a new op
// without a sample fails the test below.
func sampleEdit(op ServiceOp) (ServiceEdit, bool) {
	switch op {
	case OpRetarget:
		return Retarget(corev1.ContainerPort{ContainerPort: 8080}, 8081, "proxy"), true
	case OpPort:
		return AddPort("api", "metrics", 9102, "metrics"), true
	case OpLabel:
		return AddLabel("api", "app.kubernetes.io/name", "api"), true
	}
	return ServiceEdit{}, false
}

// Every ServiceOp changes a Service through apply, and restore undoes it:
// a case missing from apply's switch (or from restore) fails here.
func TestEveryServiceOpApplies(t *testing.T) {
	for _, op := range serviceOps {
		t.Run(string(op), func(t *testing.T) {
			e, ok := sampleEdit(op)
			if !ok {
				t.Fatalf("no sample edit for %q", op)
			}
			if e.Op != op {
				t.Fatalf("constructor built op %q, want %q", e.Op, op)
			}
			s := newTestService(t)
			if err := s.apply([]ServiceEdit{e}, "Deployment api"); err != nil {
				t.Fatal(err)
			}
			if err := s.finish(); err != nil {
				t.Fatal(err)
			}
			if s.status == nil || (len(s.status.TargetPorts)+len(s.status.Ports)+len(s.status.Labels)) == 0 {
				t.Fatalf("apply recorded nothing for %q", op)
			}
			changed := s.obj.node.MustString()
			if changed == yaml.MustParse(testService).MustString() {
				t.Fatalf("apply did not change the Service for %q", op)
			}
			if _, err := s.restore(); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(yaml.MustParse(testService).MustString(), s.obj.node.MustString()); d != "" {
				t.Errorf("restore after %q (-want +got):\n%s", op, d)
			}
		})
	}
}

func TestUnknownServiceOpIsAnError(t *testing.T) {
	s := newTestService(t)
	err := s.apply([]ServiceEdit{{Op: "retaregt", Pattern: "monitor"}}, "Deployment api")
	if err == nil {
		t.Fatal("a misspelt op did nothing, silently")
	}
	const want = `svc.yaml[0]: Service api: unknown Service edit "retaregt" (pattern monitor)`
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestWorkloadErrorMessage(t *testing.T) {
	cause := errors.New("port 80: in use")
	err := error(&WorkloadError{Where: "d.yaml[1]", Workload: "Deployment shop/api", At: "monitor", Err: cause})
	if got, want := err.Error(), "d.yaml[1]: Deployment shop/api: monitor: port 80: in use"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Error("does not unwrap to its cause")
	}
	err = &WorkloadError{Where: "d.yaml[1]", Workload: "Pod web", Err: cause}
	if got, want := err.Error(), "d.yaml[1]: Pod web: port 80: in use"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// docs/contract.md shows users the reasons: its table lists every Reason
// constant, and nothing else, in vocab.go's order.
func TestContractListsEveryReason(t *testing.T) {
	b, err := os.ReadFile("../docs/contract.md")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "| reason | when |":
			in = true
		case in && strings.HasPrefix(line, "| `"):
			listed = append(listed, strings.SplitN(strings.TrimPrefix(line, "| `"), "`", 2)[0])
		case in && !strings.HasPrefix(line, "|"):
			in = false
		}
	}
	want := make([]string, len(reasons))
	for i, r := range reasons {
		want[i] = string(r)
	}
	if d := cmp.Diff(want, listed); d != "" {
		t.Errorf("docs/contract.md's reason table is not the Reason list (-vocab.go +contract.md):\n%s", d)
	}
}
