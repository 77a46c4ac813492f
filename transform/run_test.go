package transform

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func newTestRun(t *testing.T, e *Engine, stream string) (*run, []*Doc) {
	t.Helper()
	docs := SplitStream("in.yaml", []byte(stream))
	r, err := e.newRun(docs)
	if err != nil {
		t.Fatal(err)
	}
	return r, docs
}

func wheres(objs []*object) string {
	var out []string
	for _, o := range objs {
		out = append(out, o.where)
	}
	return strings.Join(out, " ")
}

// sortDocuments reads only what could be affected.
func TestStageSortDocuments(t *testing.T) {
	stream := `apiVersion: apps/v1
kind: Deployment
metadata: {name: plain}
spec: {template: {spec: {containers: [{name: a, image: "a:1"}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: annotated, annotations: {sidecarize.dev/inject: monitor}}
spec: {template: {spec: {containers: [{name: a, image: "a:1"}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: svc}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: annotated-monitor, labels: {app.kubernetes.io/managed-by: sidecarize}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: user}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, image: "a:1"}]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
`
	r, docs := newTestRun(t, &Engine{}, stream)
	r.sortDocuments(docs)
	if len(r.errs) > 0 {
		t.Fatal(r.errs)
	}
	for name, c := range map[string]struct{ got, want string }{
		"workloads": {wheres(r.workloads), "in.yaml[1] in.yaml[5].items[0]"},
		"services":  {wheres(r.services), "in.yaml[2]"},
		"generated": {wheres(r.generated), "in.yaml[3]"},
		"lists":     {wheres(r.lists), "in.yaml[5]"},
		"policies":  {wheres(r.policies), "in.yaml[6]"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", name, c.got, c.want)
		}
	}
	if len(r.unread) != 2 || r.rep.NotRead != 1 || !r.anyMention {
		t.Errorf("unread %d (want 2), NotRead %d (want 1), anyMention %v", len(r.unread), r.rep.NotRead, r.anyMention)
	}

	// A config rule selects every workload: the plain one is read too.
	r, docs = newTestRun(t, &Engine{Flags: Flags{Patterns: []string{"monitor"}}}, stream)
	r.sortDocuments(docs)
	if got := wheres(r.workloads); got != "in.yaml[0] in.yaml[1] in.yaml[5].items[0]" {
		t.Errorf("with -p: workloads %q", got)
	}
}

const retargetedService = `apiVersion: v1
kind: Service
metadata:
  name: api
  annotations:
    sidecarize.dev/status: '{"targetPorts":[{"port":"80","targetPort":"8080"}],"created":["annotations"]}'
spec:
  clusterIP: None
  selector: {app: api}
  ports:
  - port: 80
    targetPort: 9080
`

// readServices restores a Service an earlier run changed and indexes it.
func TestStageReadServices(t *testing.T) {
	r, docs := newTestRun(t, &Engine{Uninject: true}, retargetedService)
	r.sortDocuments(docs)
	r.readServices()
	if len(r.errs) > 0 {
		t.Fatal(r.errs)
	}
	if len(r.svcs) != 1 || len(r.byNS.candidates("", map[string]string{"app": "api"})) != 1 {
		t.Fatalf("not indexed: %d Services", len(r.svcs))
	}
	got := r.svcs[0].obj.node.MustString()
	if !strings.Contains(got, "targetPort: 8080") || strings.Contains(got, "sidecarize.dev/status") {
		t.Errorf("not restored:\n%s", got)
	}
}

// retarget applies an injected workload's edits to the Services selecting
// it, reports a headless one and writes the edited Service out.
func TestStageRetargetAndWriteBack(t *testing.T) {
	r, docs := newTestRun(t, &Engine{Uninject: true}, retargetedService)
	r.sortDocuments(docs)
	r.readServices()
	r.sums = []*summary{{
		where: "in.yaml[1]", ref: "Deployment api", labels: map[string]string{"app": "api"},
		services: r.svcs, // processWorkload finds them (byNS)
		injected: true, fresh: true,
		edits:     []ServiceEdit{Retarget(corev1.ContainerPort{ContainerPort: 8080}, 9443, "tls-proxy")},
		portNames: []string{"tls-proxy"},
		portNums:  []int32{8080, 9443},
	}}
	r.retarget()
	if len(r.errs) > 0 {
		t.Fatal(r.errs)
	}
	// The edited Service is written out at once and its tree let go.
	if r.svcs[0].obj.node != nil || !docs[0].finalized {
		t.Errorf("the edited Service was not written out")
	}
	if len(r.rep.Warnings) != 1 || r.rep.Warnings[0].Field != "spec.clusterIP" {
		t.Errorf("headless Service not reported: %+v", r.rep.Warnings)
	}
	r.writeBack()
	out, err := docs[0].Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); !strings.Contains(got, "targetPort: 9443") || !strings.Contains(got, `"targetPorts":[{"port":"80","targetPort":"8080"}]`) {
		t.Errorf("not retargeted with its original recorded:\n%s", got)
	}
}
