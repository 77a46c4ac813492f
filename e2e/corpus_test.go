package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sidecarize/sidecarize/e2e/internal/cluster"
	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// corpusStream is one stream of a project's release manifests: files
// concatenated, or a kustomization built with the pinned kustomize.
type corpusStream struct {
	name      string
	files     []string // relative to the module directory (globs)
	kustomize string   // a kustomization directory instead
}

// corpus is a well-known project whose release manifests ship in its Go
// module, fetched from the module proxy at a pinned version.
type corpus struct {
	module  string // path@version; a version key of versions.env after "@$"
	streams []corpusStream
}

func corpora(t *testing.T) []corpus {
	ver := func(key string) string {
		v, err := env.Version(key)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return []corpus{
		{module: "github.com/argoproj/argo-rollouts@" + ver("ARGO_ROLLOUTS_VERSION"), streams: []corpusStream{
			{name: "install", files: []string{"manifests/install.yaml"}},
			{name: "dashboard-install", files: []string{"manifests/dashboard-install.yaml"}},
		}},
		{module: "github.com/prometheus-operator/prometheus-operator@" + ver("PROMETHEUS_OPERATOR_VERSION"), streams: []corpusStream{
			{name: "bundle", files: []string{"bundle.yaml"}},
			{name: "admission-webhook", files: []string{"example/admission-webhook/*.yaml"}},
			{name: "rbac/prometheus-operator+networkpolicies", files: []string{"example/rbac/prometheus-operator/*.yaml", "example/networkpolicies/*.yaml"}},
		}},
		{module: "k8s.io/kube-state-metrics/v2@v2.13.0", streams: []corpusStream{
			{name: "standard", kustomize: "examples/standard"},
			{name: "autosharding", kustomize: "examples/autosharding"},
			{name: "daemonsetsharding", files: []string{"examples/daemonsetsharding/*.yaml"}},
		}},
		{module: "sigs.k8s.io/metrics-server@" + ver("METRICS_SERVER_VERSION"), streams: []corpusStream{
			{name: "release", kustomize: "manifests/overlays/release"},
			// release-ha's PodDisruptionBudget is policy/v1beta1, gone since
			// Kubernetes 1.25: its 1.21+ twin is the one that applies.
			{name: "release-ha-1.21+", kustomize: "manifests/overlays/release-ha-1.21+"},
		}},
		{module: "k8s.io/kubernetes@" + ver("KUBERNETES_VERSION"), streams: []corpusStream{
			{name: "statefulset/cassandra", files: []string{"test/e2e/testing-manifests/statefulset/cassandra/*.yaml"}},
			// (cockroachdb's template declares a volume named like its
			// claim template, which the Pod Security check's emulation of
			// the StatefulSet controller cannot create as a Pod.)
			{name: "statefulset/etcd", files: []string{"test/e2e/testing-manifests/statefulset/etcd/*.yaml"}},
			{name: "statefulset/mysql-upgrade", files: []string{"test/e2e/testing-manifests/statefulset/mysql-upgrade/*.yaml"}},
			{name: "statefulset/zookeeper", files: []string{"test/e2e/testing-manifests/statefulset/zookeeper/*.yaml"}},
			{name: "guestbook (ReplicationControllers)", files: []string{
				"test/e2e/testing-manifests/guestbook/legacy/*.yaml",
				"test/e2e/testing-manifests/guestbook/frontend-service.yaml",
				"test/e2e/testing-manifests/guestbook/redis-*-service.yaml",
			}},
		}},
	}
}

// TestRealWorldCorpus runs `-p monitor`, with no other option, on the
// release manifests of well-known projects, as a new user would: it exits
// 0 (what is skipped has a reason), the output passes strict server-side
// apply and Pod Security attribution, every generated haproxy.cfg passes
// haproxy -c, the output is stable (--check exits 0 on it), uninject gives
// back the input, documents that were not edited are byte for byte the
// input's, and every Service targetPort resolves in every pod it selects and
// is admitted by every NetworkPolicy that admitted the port it replaced.
func TestRealWorldCorpus(t *testing.T) {
	// Every generated haproxy.cfg is checked on each HAProxy of the matrix
	// (Debian's 2.6 and the 3.4 the default image runs).
	haproxies, err := env.HAProxies()
	if err != nil {
		t.Fatal(err)
	}
	c := kube(t)
	eachCorpusStream(t, func(module, name string, in []byte) {
		t.Run(name, func(t *testing.T) {
			sum := checkCorpusStream(t, c, haproxies, in)
			fmt.Printf("corpus %s %s: %s\n", module, name, sum)
		})
	})
}

// eachCorpusStream downloads each corpus module and calls fn with each of
// its streams, inside a subtest per module.
func eachCorpusStream(t *testing.T, fn func(module, name string, in []byte)) {
	kustomize, err := env.Tool("KUSTOMIZE_BIN", "kustomize", "KUSTOMIZE_VERSION")
	if err != nil {
		t.Fatal(err)
	}
	for _, co := range corpora(t) {
		t.Run(co.module, func(t *testing.T) {
			dir, err := cluster.DownloadModule(ctxFor(t, 5*time.Minute), co.module)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range co.streams {
				fn(co.module, s.name, corpusInput(t, dir, s, kustomize))
			}
		})
	}
}

func corpusInput(t *testing.T, dir string, s corpusStream, kustomize string) []byte {
	t.Helper()
	if s.kustomize != "" {
		cmd := exec.Command(kustomize, "build", filepath.Join(dir, s.kustomize))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kustomize build %s: %v\n%s", s.kustomize, err, stderr.String())
		}
		return out
	}
	var buf bytes.Buffer
	for _, g := range s.files {
		files, err := filepath.Glob(filepath.Join(dir, g))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no files (%v)", g, err)
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if buf.Len() > 0 {
				buf.WriteString("\n---\n")
			}
			buf.Write(b)
		}
	}
	return buf.Bytes()
}

// corpusReport is the part of `--report json` the test reads.
type corpusReport struct {
	Workloads []struct {
		Kind, Namespace, Name, Action, Reason string
	}
}

func checkCorpusStream(t *testing.T, c *cluster.Cluster, haproxies []env.HAProxy, in []byte) string {
	t.Helper()
	bin := sidecarizeBin(t)
	run := func(stdin []byte, args ...string) (stdout, stderr []byte, code int) {
		cmd := exec.Command(bin, args...)
		cmd.Stdin = bytes.NewReader(stdin)
		var eb bytes.Buffer
		cmd.Stderr = &eb
		out, err := cmd.Output()
		code = 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		return out, eb.Bytes(), code
	}

	// 1. -p monitor and nothing else: exit 0, every skip has a reason.
	out, stderr, code := run(in, "-p", "monitor", "--report", "json")
	if code != 0 {
		t.Fatalf("sidecarize -p monitor: exit %d\n%s", code, stderr)
	}
	var rep corpusReport
	if err := json.Unmarshal(stderr, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stderr)
	}
	injected, reasons := 0, map[string]int{}
	for _, w := range rep.Workloads {
		switch w.Action {
		case "injected":
			injected++
		case "skipped":
			if w.Reason == "" {
				t.Errorf("%s %s/%s skipped without a reason", w.Kind, w.Namespace, w.Name)
			}
			reasons[w.Reason]++
		}
	}

	// 2. Stable: the output is what a second run writes.
	if _, stderr, code := run(out, "-p", "monitor", "--check", "--report", "none"); code != 0 {
		t.Errorf("--check on the output: exit %d (want 0)\n%s", code, stderr)
	}

	// 3. uninject gives back the input's objects.
	back, stderr, code := run(out, "uninject", "--report", "none")
	if code != 0 {
		t.Fatalf("uninject: exit %d\n%s", code, stderr)
	}
	inObjs, err := manifest.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	backObjs, err := manifest.Parse(back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(objectsByKey(inObjs), objectsByKey(backObjs)) {
		t.Errorf("uninject does not give back the input's objects")
		for k, o := range objectsByKey(inObjs) {
			if b := objectsByKey(backObjs)[k]; !reflect.DeepEqual(o, b) {
				t.Errorf("  %s differs:\n  in:   %s\n  back: %s", k, manifest.Object(o).JSON(), manifest.Object(b).JSON())
			}
		}
	}

	// 4. Documents not edited are byte for byte the input's.
	inDocs, outDocs := rawDocs(t, in), rawDocs(t, out)
	edited := 0
	for k, raw := range inDocs {
		o, ok := outDocs[k]
		switch {
		case !ok:
			t.Errorf("%s: missing from the output", k)
		case o.raw == raw.raw:
		case o.status:
			edited++
		default:
			t.Errorf("%s: changed without a sidecarize.dev/status recording it:\n--- in\n%s\n--- out\n%s", k, raw.raw, o.raw)
		}
	}

	// 5. Every generated haproxy.cfg passes haproxy -c on every version.
	outObjs, err := manifest.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	cfgs := 0
	for _, o := range outObjs {
		if o.Kind() != "ConfigMap" || manifest.Str(o, "metadata", "labels", "app.kubernetes.io/managed-by") != "sidecarize" {
			continue
		}
		cfg := manifest.Str(o, "data", "haproxy.cfg")
		if cfg == "" {
			continue
		}
		cfgs++
		f := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(f, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, h := range haproxies {
			if b, err := exec.Command(h.Path, "-c", "-f", f).CombinedOutput(); err != nil {
				t.Errorf("%s -c %s/%s: %v\n%s", h.Name(), o.Namespace(), o.Name(), err, b)
			}
		}
	}

	// 6. Services resolve, NetworkPolicies admit.
	checkTargetPorts(t, inObjs, outObjs)

	// 7. Strict server-side apply (CRDs aside: they are unchanged, and the
	// bundle's exceed client-side apply's annotation limit) and Pod Security
	// attribution.
	var applied [][]byte
	for k, d := range outDocs {
		if !strings.HasPrefix(k, "CustomResourceDefinition/") {
			applied = append(applied, []byte(d.raw))
		}
	}
	sort.Slice(applied, func(i, j int) bool { return bytes.Compare(applied[i], applied[j]) < 0 })
	stream := bytes.Join(applied, []byte("\n---\n"))
	ctx := ctxFor(t, 3*time.Minute)
	if err := checkApply(ctx, c, stream); err != nil {
		t.Errorf("apply --dry-run=server --validate=strict: %v", err)
	}
	results, err := checkRestricted(ctx, c, stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		for _, v := range r.InjectedViolations {
			t.Errorf("%s: injected container/volume violates Pod Security restricted: %s", r.Workload, v)
		}
	}

	var rs []string
	for r, n := range reasons {
		rs = append(rs, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(rs)
	skipped := "none skipped"
	if len(rs) > 0 {
		skipped = "skipped: " + strings.Join(rs, ", ")
	}
	return fmt.Sprintf("%d documents, %d workloads, %d injected, %s; %d documents edited (workloads, Services, NetworkPolicies), %d haproxy.cfg checked",
		len(inDocs), len(rep.Workloads), injected, skipped, edited, cfgs)
}

func objKey(o manifest.Object) string {
	return o.Kind() + "/" + o.Namespace() + "/" + o.Name()
}

func objectsByKey(objs []manifest.Object) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range objs {
		out[objKey(o)] = o
	}
	return out
}

type rawDoc struct {
	raw    string
	status bool // carries sidecarize.dev/status (an edit recorded)
}

// rawDocs splits a stream into its documents' text, keyed by object.
func rawDocs(t *testing.T, data []byte) map[string]rawDoc {
	t.Helper()
	out := map[string]rawDoc{}
	var cur []string
	flush := func() {
		text := strings.TrimSpace(strings.Join(cur, "\n"))
		cur = nil
		if text == "" {
			return
		}
		var o map[string]any
		if err := yaml.Unmarshal([]byte(text), &o); err != nil || o == nil {
			return
		}
		m := manifest.Object(o)
		_, st := manifest.Map(m, "metadata", "annotations")["sidecarize.dev/status"]
		out[objKey(m)] = rawDoc{raw: text, status: st}
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "---" || strings.HasPrefix(line, "--- ") {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return out
}

// checkTargetPorts: every Service port's targetPort resolves in every pod
// the Service selects, and a NetworkPolicy that admitted the port a Service
// sent to before the run admits the one it sends to now.
func checkTargetPorts(t *testing.T, inObjs, outObjs []manifest.Object) {
	t.Helper()
	type pod struct {
		ref     string
		ns      string
		labels  map[string]any
		ports   map[string]int // name -> number
		nums    map[int]bool
		scraped int // the port prometheus.io/port names, when scraped so
	}
	pods := func(objs []manifest.Object) []pod {
		var out []pod
		for _, o := range objs {
			tmpl := o.PodTemplate()
			if tmpl == nil {
				continue
			}
			p := pod{ref: o.Kind() + " " + o.Namespace() + "/" + o.Name(), ns: o.Namespace(), labels: manifest.Map(tmpl, "metadata", "labels"), ports: map[string]int{}, nums: map[int]bool{}}
			if anns := manifest.Map(tmpl, "metadata", "annotations"); fmt.Sprint(anns["prometheus.io/scrape"]) == "true" {
				p.scraped, _ = strconv.Atoi(fmt.Sprint(anns["prometheus.io/port"]))
			}
			for _, list := range []string{"initContainers", "containers"} {
				for _, c := range manifest.Slice(tmpl, "spec", list) {
					for _, cp := range manifest.Slice(c.(map[string]any), "ports") {
						m := cp.(map[string]any)
						n := toInt(m["containerPort"])
						p.nums[n] = true
						if name, _ := m["name"].(string); name != "" {
							p.ports[name] = n
						}
					}
				}
			}
			out = append(out, p)
		}
		return out
	}
	selects := func(sel map[string]any, labels map[string]any) bool {
		if len(sel) == 0 {
			return false
		}
		for k, v := range sel {
			if fmt.Sprint(labels[k]) != fmt.Sprint(v) {
				return false
			}
		}
		return true
	}
	resolve := func(p pod, tp any, port int) (int, bool) {
		switch v := tp.(type) {
		case nil:
			return port, true
		case string:
			if n, err := strconv.Atoi(v); err == nil {
				return n, true
			}
			n, ok := p.ports[v]
			return n, ok
		}
		return toInt(tp), true
	}
	inSvc := map[string]manifest.Object{}
	for _, o := range inObjs {
		if o.Kind() == "Service" {
			inSvc[objKey(o)] = o
		}
	}
	var policies []manifest.Object
	for _, o := range outObjs {
		if o.Kind() == "NetworkPolicy" {
			policies = append(policies, o)
		}
	}
	inPods := map[string]pod{}
	for _, p := range pods(inObjs) {
		inPods[p.ref] = p
	}
	for _, o := range outObjs {
		if o.Kind() != "Service" || manifest.Str(o, "spec", "type") == "ExternalName" {
			continue
		}
		sel := manifest.Map(o, "spec", "selector")
		before := inSvc[objKey(o)]
		for _, p := range pods(outObjs) {
			if p.ns != o.Namespace() || !selects(sel, p.labels) {
				continue
			}
			for i, sp := range manifest.Slice(o, "spec", "ports") {
				m := sp.(map[string]any)
				if pr, _ := m["protocol"].(string); pr == "UDP" || pr == "SCTP" {
					continue
				}
				now, ok := resolve(p, m["targetPort"], toInt(m["port"]))
				if !ok {
					t.Errorf("Service %s port %v: targetPort %v is not a port of %s", objKey(o), m["name"], m["targetPort"], p.ref)
					continue
				}
				if before == nil || i >= len(manifest.Slice(before, "spec", "ports")) {
					continue
				}
				bm := manifest.Slice(before, "spec", "ports")[i].(map[string]any)
				was, ok := resolve(inPods[p.ref], bm["targetPort"], toInt(bm["port"]))
				if !ok || was == now {
					continue
				}
				for _, np := range policies {
					if np.Namespace() != o.Namespace() || !selects(manifest.Map(np, "spec", "podSelector", "matchLabels"), p.labels) {
						continue
					}
					for _, r := range manifest.Slice(np, "spec", "ingress") {
						rm, _ := r.(map[string]any)
						if admits(rm, was, "") && !admits(rm, now, fmt.Sprint(m["targetPort"])) {
							t.Errorf("NetworkPolicy %s admits %d for %s but not %d, where Service %s now sends", objKey(np), was, p.ref, now, objKey(o))
						}
						// Scraped through prometheus.io annotations:
						// Prometheus dials the pod's metrics port.
						if p.scraped != 0 && admits(rm, was, "") && !admits(rm, p.scraped, "") {
							t.Errorf("NetworkPolicy %s admits %d for %s but not %d, where prometheus.io/port scrapes it", objKey(np), was, p.ref, p.scraped)
						}
					}
				}
			}
		}
	}
}

// admits: does an ingress rule admit TCP port n (or the named port)?
func admits(rule map[string]any, n int, name string) bool {
	ports := manifest.Slice(rule, "ports")
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		m := p.(map[string]any)
		if pr, _ := m["protocol"].(string); pr != "" && pr != "TCP" {
			continue
		}
		switch v := m["port"].(type) {
		case nil:
			return true
		case string:
			if v == name {
				return true
			}
		default:
			lo, hi := toInt(v), toInt(v)
			if e, ok := m["endPort"]; ok {
				hi = toInt(e)
			}
			if n >= lo && n <= hi {
				return true
			}
		}
	}
	return false
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return 0
}
