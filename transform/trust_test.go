package transform_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/transform"
)

// trustInput: two injected workloads of one namespace, and one of another
// namespace with the same name as the first.
const trustInput = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop, annotations: {sidecarize.dev/inject: fake}}
spec:
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: example.com/api:1.0
        ports: [{name: http, containerPort: 8080}]
        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, emptyDir: {}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {sidecarize.dev/inject: fake}}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "example.com/web:1.0", ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: other, annotations: {sidecarize.dev/inject: fake}}
spec:
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "example.com/api:1.0", ports: [{name: http, containerPort: 8080}]}]
`

// stream is a parsed output, to forge statuses and pick objects.
type stream []*yaml.RNode

func parseStream(t *testing.T, b []byte) stream {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(string(b)), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func (s stream) find(t *testing.T, kind, ns, name string) *yaml.RNode {
	t.Helper()
	for _, n := range s {
		if n.GetKind() == kind && n.GetNamespace() == ns && n.GetName() == name {
			return n
		}
	}
	return nil
}

func (s stream) bytes(t *testing.T, keep func(*yaml.RNode) bool) []byte {
	t.Helper()
	var out []*yaml.RNode
	for _, n := range s {
		if keep == nil || keep(n) {
			out = append(out, n)
		}
	}
	var b strings.Builder
	if err := (&kio.ByteWriter{Writer: &b}).Write(out); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// forge rewrites a workload's status with f.
func (s stream) forge(t *testing.T, ns, name string, f func(st map[string]any)) {
	t.Helper()
	n := s.find(t, "Deployment", ns, name)
	raw := n.GetAnnotations()[transform.AnnotationStatus]
	var st map[string]any
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("status of %s/%s: %v", ns, name, err)
	}
	f(st)
	b, _ := json.Marshal(st)
	if err := n.PipeE(yaml.SetAnnotation(transform.AnnotationStatus, string(b))); err != nil {
		t.Fatal(err)
	}
}

func setRaw(s stream, t *testing.T, ns, name, raw string) {
	t.Helper()
	if err := s.find(t, "Deployment", ns, name).PipeE(yaml.SetAnnotation(transform.AnnotationStatus, raw)); err != nil {
		t.Fatal(err)
	}
}

func injected(t *testing.T, e *transform.Engine) stream {
	t.Helper()
	out, _, err := e.Process("in.yaml", []byte(trustInput))
	if err != nil {
		t.Fatal(err)
	}
	return parseStream(t, out)
}

func warnings(rep *transform.Report) string {
	var b strings.Builder
	for _, w := range rep.Workloads {
		for _, m := range w.Warnings {
			b.WriteString(w.Kind + " " + w.Namespace + "/" + w.Name + ": " + m + "\n")
		}
	}
	for _, m := range rep.Warnings {
		b.WriteString(m.Object + ": " + m.Message + "\n")
	}
	return b.String()
}

func containerNames(t *testing.T, n *yaml.RNode, list string) []string {
	t.Helper()
	seq, err := n.Pipe(yaml.Lookup("spec", "template", "spec", list))
	if err != nil {
		t.Fatal(err)
	}
	if seq == nil {
		return nil
	}
	names, _ := seq.ElementValues("name")
	return names
}

// A forged or stale sidecarize.dev/status: uninject and re-injection remove
// only what sidecarize can prove it made for this workload, report the rest
// and leave it alone.
func TestForgedStatus(t *testing.T) {
	type result struct {
		out  stream
		rep  *transform.Report
		warn string
	}
	run := func(t *testing.T, e *transform.Engine, in []byte) result {
		t.Helper()
		out, rep, err := e.Process("out.yaml", in)
		if err != nil {
			t.Fatal(err)
		}
		return result{parseStream(t, out), rep, warnings(rep)}
	}
	uninject := func() *transform.Engine { e := fakeEngine(); e.Uninject = true; return e }
	wantWarn := func(t *testing.T, r result, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(r.warn, s) {
				t.Errorf("no warning containing %q; warnings:\n%s", s, r.warn)
			}
		}
	}

	t.Run("foreign ConfigMap, uninject", func(t *testing.T) {
		s := injected(t, fakeEngine())
		s.forge(t, "shop", "api", func(st map[string]any) {
			st["objects"] = append(st["objects"].([]any), map[string]any{"kind": "ConfigMap", "name": "web-fake"})
		})
		// web's Deployment lives in another file: only its ConfigMap is here.
		in := s.bytes(t, func(n *yaml.RNode) bool { return !(n.GetKind() == "Deployment" && n.GetName() == "web") })
		r := run(t, uninject(), in)
		if r.out.find(t, "ConfigMap", "shop", "web-fake") == nil {
			t.Fatalf("web's ConfigMap was deleted by api's forged status")
		}
		if r.out.find(t, "ConfigMap", "shop", "api-fake") != nil {
			t.Errorf("api's own ConfigMap was not removed")
		}
		wantWarn(t, r, `ConfigMap "web-fake"`)
	})

	t.Run("foreign ConfigMap, re-injection", func(t *testing.T) {
		s := injected(t, fakeEngine())
		orig := s.bytes(t, nil)
		s.forge(t, "shop", "api", func(st map[string]any) {
			st["objects"] = append(st["objects"].([]any), map[string]any{"kind": "ConfigMap", "name": "web-fake"})
		})
		r := run(t, fakeEngine(), s.bytes(t, nil))
		if got := r.out.bytes(t, nil); string(got) != string(orig) {
			t.Errorf("re-injecting over the forged status differs from the injection:\n%s", got)
		}
		wantWarn(t, r, `ConfigMap "web-fake"`)
	})

	t.Run("a Secret named and labelled like a generated object", func(t *testing.T) {
		s := injected(t, fakeEngine())
		s.forge(t, "shop", "api", func(st map[string]any) {
			st["objects"] = append(st["objects"].([]any), map[string]any{"kind": "Secret", "name": "api-fake-tls"})
		})
		sec, err := yaml.Parse("apiVersion: v1\nkind: Secret\nmetadata: {name: api-fake-tls, namespace: shop, labels: {app.kubernetes.io/managed-by: sidecarize}}\n")
		if err != nil {
			t.Fatal(err)
		}
		r := run(t, uninject(), append(s, sec).bytes(t, nil))
		if r.out.find(t, "Secret", "shop", "api-fake-tls") == nil {
			t.Fatalf("a Secret was deleted by a forged status: sidecarize generates no Secret")
		}
		wantWarn(t, r, `sidecarize generates no Secret`)
	})

	t.Run("an object without the owner annotation of a status that records its workload", func(t *testing.T) {
		s := injected(t, fakeEngine())
		s.forge(t, "shop", "api", func(st map[string]any) {
			st["objects"] = append(st["objects"].([]any), map[string]any{"kind": "ConfigMap", "name": "api-fake-mine"})
		})
		cm, err := yaml.Parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api-fake-mine, namespace: shop, labels: {app.kubernetes.io/managed-by: sidecarize}}\ndata: {k: v}\n")
		if err != nil {
			t.Fatal(err)
		}
		r := run(t, uninject(), append(s, cm).bytes(t, nil))
		if r.out.find(t, "ConfigMap", "shop", "api-fake-mine") == nil {
			t.Fatalf("a ConfigMap without sidecarize.dev/owner was deleted by a status that records its workload")
		}
		if r.out.find(t, "ConfigMap", "shop", "api-fake") != nil {
			t.Errorf("api's own ConfigMap was not removed")
		}
		wantWarn(t, r, `has no sidecarize.dev/owner`)
	})

	t.Run("an env edit without its value in a status that records its workload", func(t *testing.T) {
		s := injected(t, fakeEngine())
		api := s.find(t, "Deployment", "shop", "api")
		c, err := api.Pipe(yaml.Lookup("spec", "template", "spec", "containers"), yaml.MatchElement("name", "api"))
		if err != nil || c == nil {
			t.Fatal("no api container", err)
		}
		env, err := yaml.Parse("[{name: DB_URL, value: postgres://db}]")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PipeE(yaml.SetField("env", env)); err != nil {
			t.Fatal(err)
		}
		s.forge(t, "shop", "api", func(st map[string]any) {
			edits, _ := st["edits"].([]any)
			st["edits"] = append(edits, map[string]any{"op": "env", "container": "api", "name": "DB_URL"})
		})
		r := run(t, uninject(), s.bytes(t, nil))
		if !strings.Contains(string(r.out.bytes(t, nil)), "postgres://db") {
			t.Fatalf("the app's env var was removed by a forged edit that records no value:\n%s", r.out.bytes(t, nil))
		}
		wantWarn(t, r, `env "DB_URL" records no value`)
	})

	t.Run("owner annotation names another workload", func(t *testing.T) {
		s := injected(t, fakeEngine())
		cm := s.find(t, "ConfigMap", "shop", "api-fake")
		if cm.GetAnnotations()[transform.AnnotationOwner] != "Deployment/api" {
			t.Fatalf("generated ConfigMap has no owner annotation: %v", cm.GetAnnotations())
		}
		_ = cm.PipeE(yaml.SetAnnotation(transform.AnnotationOwner, "StatefulSet/api"))
		r := run(t, uninject(), s.bytes(t, nil))
		if r.out.find(t, "ConfigMap", "shop", "api-fake") == nil {
			t.Errorf("a ConfigMap owned by StatefulSet/api was removed by Deployment/api")
		}
		wantWarn(t, r, "StatefulSet/api")
	})

	t.Run("object of another namespace", func(t *testing.T) {
		s := injected(t, fakeEngine())
		s.forge(t, "shop", "api", func(st map[string]any) {
			st["objects"] = []any{map[string]any{"kind": "ConfigMap", "name": "api-fake", "namespace": "other"}}
		})
		// other/api's Deployment is elsewhere: only its ConfigMap is here.
		in := s.bytes(t, func(n *yaml.RNode) bool { return !(n.GetKind() == "Deployment" && n.GetNamespace() == "other") })
		r := run(t, uninject(), in)
		if r.out.find(t, "ConfigMap", "other", "api-fake") == nil {
			t.Errorf("a ConfigMap of namespace other was removed by shop/api's status")
		}
		wantWarn(t, r, "namespace")
	})

	t.Run("app container", func(t *testing.T) {
		e := fakeEngine()
		e.Flags.NativeSidecars = "false"
		s := injected(t, e)
		s.forge(t, "shop", "api", func(st map[string]any) {
			st["containers"] = []any{"fake-proxy", "api"}
			st["initContainers"] = []any{"api"}
		})
		for _, eng := range []*transform.Engine{uninject(), e} {
			r := run(t, eng, s.bytes(t, nil))
			got := containerNames(t, r.out.find(t, "Deployment", "shop", "api"), "containers")
			if eng.Uninject && strings.Join(got, ",") != "api" || !eng.Uninject && strings.Join(got, ",") != "api,fake-proxy" {
				t.Errorf("uninject=%v: containers %v", eng.Uninject, got)
			}
			wantWarn(t, r, `container "api"`)
		}
	})

	t.Run("the only container", func(t *testing.T) {
		e := fakeEngine()
		e.Flags.NativeSidecars = "false"
		s := injected(t, e)
		// A status written for a pod whose app container is named like a
		// helper must not leave the pod without containers.
		d := s.find(t, "Deployment", "shop", "web")
		c, _ := d.Pipe(yaml.Lookup("spec", "template", "spec", "containers"))
		c.YNode().Content = c.YNode().Content[1:] // only fake-proxy is left
		r := run(t, uninject(), s.bytes(t, nil))
		if got := containerNames(t, r.out.find(t, "Deployment", "shop", "web"), "containers"); len(got) != 1 {
			t.Errorf("containers: %v", got)
		}
		wantWarn(t, r, "without containers")
	})

	t.Run("volume the app mounts", func(t *testing.T) {
		s := injected(t, fakeEngine())
		s.forge(t, "shop", "api", func(st map[string]any) {
			st["volumes"] = []any{"sidecarize-fake", "data"}
		})
		r := run(t, uninject(), s.bytes(t, nil))
		vols := containerNames(t, r.out.find(t, "Deployment", "shop", "api"), "volumes")
		if strings.Join(vols, ",") != "data" {
			t.Errorf("volumes: %v", vols)
		}
		wantWarn(t, r, `volume "data"`)
	})

	t.Run("malformed JSON", func(t *testing.T) {
		s := injected(t, fakeEngine())
		setRaw(s, t, "shop", "api", `{"version":"test","patterns":["fake"`)
		for _, e := range []*transform.Engine{uninject(), fakeEngine()} {
			_, _, err := e.Process("out.yaml", s.bytes(t, nil))
			if err == nil || !strings.Contains(err.Error(), "Deployment shop/api") || !strings.Contains(err.Error(), transform.AnnotationStatus) {
				t.Errorf("uninject=%v: got %v", e.Uninject, err)
			}
		}
	})

	t.Run("future version", func(t *testing.T) {
		s := injected(t, fakeEngine())
		s.forge(t, "shop", "api", func(st map[string]any) {
			st["version"] = "v9.0.0"
			st["patterns"] = []any{"fake", "teleport"}
			st["sockets"] = []any{"/run/teleport.sock"}
			st["initContainers"] = append(st["initContainers"].([]any), "teleport-agent")
		})
		r := run(t, uninject(), s.bytes(t, nil))
		api := r.out.find(t, "Deployment", "shop", "api")
		if got := containerNames(t, api, "initContainers"); len(got) != 0 {
			t.Errorf("initContainers left: %v", got)
		}
		if _, ok := api.GetAnnotations()[transform.AnnotationStatus]; ok {
			t.Errorf("the status is left")
		}
		wantWarn(t, r, `"v9.0.0"`, "sockets", `"teleport"`)
	})

	t.Run("not an object of this workload", func(t *testing.T) {
		s := injected(t, fakeEngine())
		s.forge(t, "shop", "api", func(st map[string]any) {
			st["objects"] = append(st["objects"].([]any), map[string]any{"kind": "Secret", "name": "db-password"})
		})
		r := run(t, fakeEngine(), s.bytes(t, nil))
		wantWarn(t, r, `Secret "db-password"`)
	})

	t.Run("Service edits of a workload left as it is", func(t *testing.T) {
		in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    sidecarize.dev/status: '{"version":"test","patterns":["fake"],"services":[{"op":"retarget","pattern":"fake","appPort":8080,"proxyPort":9080,"proxyPortName":"fake-proxy"}]}'
spec:
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: "example.com/api:1.0", ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: http}]
`
		r := run(t, fakeEngine(), []byte(in))
		ports, _ := r.out.find(t, "Service", "", "api").Pipe(yaml.Lookup("spec", "ports"))
		if got := yaml.GetValue(yaml.NewRNode(ports.YNode().Content[0]).Field("targetPort").Value); got != "http" {
			t.Errorf("the Service was retargeted to %q, a port no helper has", got)
		}
		wantWarn(t, r, "fake-proxy")
	})
}

// An edit of the app's container is undone only where the value sidecarize
// wrote is still in place: a value the user changed since stays.
func TestEditUndoneOnlyWhereItsValueIs(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {sidecarize.dev/inject: edit}}
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx:1.27
        args: ["--api=api:80"]
        env: [{name: API_URL, value: "http://api"}]
`
	pats := []transform.Pattern{editPattern{}}
	out, _, err := (&transform.Engine{Patterns: pats, Version: "test"}).Process("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"set":"http://127.0.0.1:9001"`) {
		t.Fatalf("the status does not record the value set:\n%s", out)
	}
	changed := strings.Replace(string(out), `value: "http://127.0.0.1:9001"`, `value: "http://changed"`, 1)
	back, rep, err := (&transform.Engine{Patterns: pats, Uninject: true, Version: "test"}).Process("out.yaml", []byte(changed))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(back), `value: "http://changed"`) || !strings.Contains(string(back), `args: ["--api=api:80"]`) {
		t.Errorf("uninject: the user's value is lost or the arg not restored:\n%s", back)
	}
	if w := warnings(rep); !strings.Contains(w, `env "API_URL" no longer has the value sidecarize set`) {
		t.Errorf("warnings:\n%s", w)
	}
}

// rename does what kustomize's namePrefix and namespace transformers do to
// an output: every object's name gets the prefix (and references to the
// ConfigMap follow), every namespace becomes ns.
func rename(t *testing.T, s stream, prefix, ns string) {
	t.Helper()
	for _, n := range s {
		if err := n.SetName(prefix + n.GetName()); err != nil {
			t.Fatal(err)
		}
		if n.GetNamespace() != "" {
			if err := n.SetNamespace(ns); err != nil {
				t.Fatal(err)
			}
		}
		vols, _ := n.Pipe(yaml.Lookup("spec", "template", "spec", "volumes"))
		if vols == nil {
			continue
		}
		for _, v := range vols.Content() {
			if ref, _ := yaml.NewRNode(v).Pipe(yaml.Lookup("configMap", "name")); ref != nil {
				ref.YNode().Value = prefix + ref.YNode().Value
			}
		}
	}
}

// A status naming another workload claims none of the objects of the
// workload it is on (renamed outputs: TestRenamedOutputByOwner).
func TestRenamedOutput(t *testing.T) {
	s := injected(t, fakeEngine())
	s = stream(append([]*yaml.RNode{}, s[:2]...)) // shop/api and its ConfigMap
	if s[1].GetKind() != "ConfigMap" || s[1].GetName() != "api-fake" {
		t.Fatalf("unexpected stream: %s %s", s[1].GetKind(), s[1].GetName())
	}
	rename(t, s, "prod-", "prod")
	e := fakeEngine()
	e.Uninject = true

	// A status naming another workload claims none of its objects.
	s.forge(t, "prod", "prod-api", func(st map[string]any) { st["workload"] = "Deployment/web" })
	out, rep, err := e.Process("out.yaml", s.bytes(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if parseStream(t, out).find(t, "ConfigMap", "prod", "prod-api-fake") == nil || !strings.Contains(warnings(rep), "written for Deployment/web") {
		t.Errorf("a status written for another workload claimed its objects:\n%s\n%s", out, warnings(rep))
	}
}

// Generated objects are found by their label and owner annotation, not by
// a name computed from the workload's: a prefix that holds the workload's
// name (api → apishop-api) and a suffix as well (kustomize's namePrefix and
// nameSuffix) are uninjected and re-injected without leftovers or
// duplicates.
func TestRenamedOutputByOwner(t *testing.T) {
	for _, tc := range [][2]string{{"prod-", ""}, {"apishop-", "-v2"}, {"api-", "-v2"}, {"x-api-", ""}} {
		prefix, suffix := tc[0], tc[1]
		t.Run(prefix+"api"+suffix, func(t *testing.T) {
			s := injected(t, fakeEngine())
			s = stream(append([]*yaml.RNode{}, s[:2]...)) // shop/api and its ConfigMap
			rename(t, s, prefix, "prod")
			for _, n := range s {
				if err := n.SetName(n.GetName() + suffix); err != nil {
					t.Fatal(err)
				}
			}
			vol, err := s[0].Pipe(yaml.Lookup("spec", "template", "spec", "volumes", "[name=sidecarize-fake]", "configMap", "name"))
			if err != nil || vol == nil {
				t.Fatalf("no ConfigMap volume: %v\n%s", err, s.bytes(t, nil))
			}
			vol.YNode().Value += suffix
			workload, cm := prefix+"api"+suffix, prefix+"api-fake"+suffix

			e := fakeEngine()
			e.Uninject = true
			out, rep, err := e.Process("out.yaml", s.bytes(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			if w := warnings(rep); w != "" {
				t.Errorf("warnings:\n%s", w)
			}
			if got := parseStream(t, out); len(got) != 1 || got.find(t, "ConfigMap", "prod", cm) != nil {
				t.Errorf("uninject left:\n%s", out)
			}

			again, rep, err := fakeEngine().Process("out.yaml", s.bytes(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			if w := warnings(rep); strings.Contains(w, "left alone") {
				t.Errorf("warnings:\n%s", w)
			}
			var cms []string
			for _, n := range parseStream(t, again) {
				if n.GetKind() == "ConfigMap" {
					cms = append(cms, n.GetName()+" owner "+n.GetAnnotations()[transform.AnnotationOwner])
				}
			}
			if want := strings.ToLower(workload) + "-fake owner Deployment/" + workload; strings.Join(cms, ",") != want {
				t.Errorf("ConfigMaps after re-injection: %v, want %s", cms, want)
			}
		})
	}
}

// Two renamed copies of one injected workload in one namespace (two
// overlays of one base, prod- and canary-) beside the original: each copy
// claims the objects renamed as it was, never the original's.
func TestRenamedCopies(t *testing.T) {
	base := injected(t, fakeEngine())
	base = stream(append([]*yaml.RNode{}, base[:2]...))
	var all stream
	for _, prefix := range []string{"prod-", "canary-", ""} {
		s := parseStream(t, base.bytes(t, nil))
		rename(t, s, prefix, "shop")
		all = append(all, s...)
	}
	configMaps := func(out []byte) string {
		var cms []string
		for _, n := range parseStream(t, out) {
			if n.GetKind() == "ConfigMap" {
				cms = append(cms, n.GetName())
			}
		}
		return strings.Join(cms, ",")
	}
	e := fakeEngine()
	e.Uninject = true
	out, rep, err := e.Process("out.yaml", all.bytes(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if cms := configMaps(out); cms != "" {
		t.Errorf("uninject left ConfigMaps %s\n%s", cms, warnings(rep))
	}
	again, rep, err := fakeEngine().Process("out.yaml", all.bytes(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if cms := configMaps(again); cms != "prod-api-fake,canary-api-fake,api-fake" {
		t.Errorf("ConfigMaps after re-injection: %s\n%s", cms, warnings(rep))
	}
	// The original no longer selected (injected earlier, kept as it is):
	// the copies' re-injection leaves its ConfigMap.
	orig := all.find(t, "Deployment", "shop", "api")
	if err := orig.PipeE(yaml.ClearAnnotation(transform.AnnotationInject)); err != nil {
		t.Fatal(err)
	}
	again, rep, err = fakeEngine().Process("out.yaml", all.bytes(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if cms := configMaps(again); cms != "prod-api-fake,canary-api-fake,api-fake" {
		t.Errorf("ConfigMaps after re-injecting the copies only: %s\n%s", cms, warnings(rep))
	}
}

// Hostile statuses: odd values in every field are warnings, never a panic
// or a change outside the workload.
func TestHostileStatuses(t *testing.T) {
	for _, raw := range []string{
		`{}`,
		`{"version":"x\nsidecarize: Deployment y: injected","patterns":["fake","fake","","../x"]}`,
		`{"patterns":["fake"],"containers":["","fake-proxy","fake-proxy"],"initContainers":[null],"volumes":["sidecarize-fake","sidecarize-fake"]}`,
		`{"patterns":["fake"],"edits":[{"op":"arg","container":"api","index":-1,"old":"x"},{"op":"arg","container":"api","index":99},{"op":"env","container":"nope","name":"X"},{"op":"annotation","name":"sidecarize.dev/status"},{"op":"mount","container":"api","name":"data"},{"op":"rm -rf"}]}`,
		`{"patterns":["fake"],"services":[{"op":"retarget","pattern":"fake","proxyPort":-1},{"op":"port","pattern":"nope","targetPort":"fake-proxy"},{"op":"??"}]}`,
		`{"patterns":["fake"],"objects":[{"kind":"ConfigMap","name":"api-fake/../../x"},{"kind":"","name":""},{"kind":"Namespace","name":"api-fake"}],"workload":"/"}`,
		`{"patterns":["fake"],"created":["metadata","annotations","volumes","initContainers","objectAnnotations","spec"]}`,
	} {
		for _, uninject := range []bool{true, false} {
			s := injected(t, fakeEngine())
			setRaw(s, t, "shop", "api", raw)
			e := fakeEngine()
			e.Uninject = uninject
			out, _, err := e.Process("out.yaml", s.bytes(t, nil))
			if err != nil && !uninject && strings.Contains(err.Error(), "Deployment shop/api: fake: ") && strings.Contains(err.Error(), "does not list?") {
				continue // the helpers the status does not prove stay: re-injection refuses to stack
			}
			if err != nil {
				t.Errorf("%s (uninject %v): %v", raw, uninject, err)
				continue
			}
			got := parseStream(t, out)
			for _, other := range [][2]string{{"shop", "web"}, {"other", "api"}} {
				if d := got.find(t, "Deployment", other[0], other[1]); d == nil || len(containerNames(t, d, "containers")) != 1 {
					t.Errorf("%s: %s/%s changed", raw, other[0], other[1])
				}
			}
			if api := got.find(t, "Deployment", "shop", "api"); len(containerNames(t, api, "containers")) == 0 {
				t.Errorf("%s: shop/api lost its container", raw)
			}
		}
	}
}

// A Service's own status removes only ports sidecarize could have added
// (named, targeting a container port by name, never the last) and only the
// port names it gives (port-<number>).
func TestForgedServiceStatus(t *testing.T) {
	in := `apiVersion: v1
kind: Service
metadata:
  name: api
  annotations:
    sidecarize.dev/status: '{"ports":["http","admin","gone"],"named":["grpc"]}'
spec:
  selector: {app: api}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: admin, port: 81, targetPort: admin}
  - {name: grpc, port: 90, targetPort: 9090}
---
apiVersion: v1
kind: Service
metadata:
  name: single
  annotations:
    sidecarize.dev/status: '{"ports":["web"]}'
spec:
  selector: {app: single}
  ports: [{name: web, port: 80, targetPort: web}]
---
apiVersion: v1
kind: Service
metadata:
  name: claimed
  annotations:
    sidecarize.dev/status: '{"ports":["web"],"created":["ports"]}'
spec:
  selector: {app: claimed}
  ports: [{name: web, port: 80, targetPort: web}]
`
	e := fakeEngine()
	e.Uninject = true
	out, rep, err := e.Process("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := parseStream(t, out)
	names := func(name string) string {
		ports, _ := s.find(t, "Service", "", name).Pipe(yaml.Lookup("spec", "ports"))
		n, _ := ports.ElementValues("name")
		return strings.Join(n, ",")
	}
	if got := names("api"); got != "http,grpc" {
		t.Errorf("api ports: %s (only admin, named and targeting a name, goes)", got)
	}
	if got := names("single"); got != "web" {
		t.Errorf("single ports: %s", got)
	}
	// "created ports" lets the only port go only when it targets a helper
	// port of the table (mon-metrics, …): web is the app's.
	if got := names("claimed"); got != "web" {
		t.Errorf("claimed ports: %s", got)
	}
	w := warnings(rep)
	for _, want := range []string{`port "http" does not target a container port by name`, `port "gone" is not in the Service`, `the name of port "grpc" is not one sidecarize gives`, `port "web" is the Service's only port`} {
		if !strings.Contains(w, want) {
			t.Errorf("no warning %q in:\n%s", want, w)
		}
	}
}

// A NetworkPolicy's own status removes only the port entries sidecarize
// adds — {protocol: TCP, port: P}, P a helper port the status of a workload
// the policy selects proves — and never a rule's last port (a rule with no
// ports admits every port: removing it would open the pod).
func TestForgedPolicyStatus(t *testing.T) {
	in := trustInput + `---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - ports: [{protocol: TCP, port: 8080}, {protocol: TCP, port: 9999}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: only
  namespace: shop
  annotations:
    sidecarize.dev/status: '{"ports":[{"rule":0,"port":"8443"}]}'
spec:
  podSelector: {matchLabels: {app: nothing}}
  ingress:
  - ports: [{protocol: TCP, port: 8443}]
`
	out, _, err := fakeEngine().Process("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := parseStream(t, out)
	np := s.find(t, "NetworkPolicy", "shop", "api")
	if !strings.Contains(np.MustString(), "port: 9080") {
		t.Fatalf("the proxy port was not admitted:\n%s", np.MustString())
	}
	// Forge: the app's own port, and the port 9999 no workload proves.
	if err := np.PipeE(yaml.SetAnnotation(transform.AnnotationStatus, `{"ports":[{"rule":0,"port":"9080"},{"rule":0,"port":"8080"},{"rule":0,"port":"9999"}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.find(t, "NetworkPolicy", "shop", "only").PipeE(yaml.SetAnnotation(transform.AnnotationStatus, `{"ports":[{"rule":0,"port":"8443"}]}`)); err != nil {
		t.Fatal(err)
	}
	for _, uninject := range []bool{true, false} {
		e := fakeEngine()
		e.Uninject = uninject
		out, rep, err := e.Process("out.yaml", s.bytes(t, nil))
		if err != nil {
			t.Fatal(err)
		}
		got := parseStream(t, out)
		ports := got.find(t, "NetworkPolicy", "shop", "api").MustString()
		for _, p := range []string{"port: 8080", "port: 9999"} {
			if !strings.Contains(ports, p) {
				t.Errorf("uninject %v: a forged status removed %s:\n%s", uninject, p, ports)
			}
		}
		if uninject == strings.Contains(ports, "port: 9080") {
			t.Errorf("uninject %v: the proxy port 9080 is admitted: %v\n%s", uninject, !uninject, ports)
		}
		if only := got.find(t, "NetworkPolicy", "shop", "only").MustString(); !strings.Contains(only, "port: 8443") {
			t.Errorf("uninject %v: a forged status removed a rule's only port (the rule would admit every port):\n%s", uninject, only)
		}
		w := warnings(rep)
		for _, want := range []string{`NetworkPolicy shop/api`, `port "8080"`, `port "9999"`, `NetworkPolicy shop/only`, `port "8443"`} {
			if !strings.Contains(w, want) {
				t.Errorf("uninject %v: no warning with %q in:\n%s", uninject, want, w)
			}
		}
	}
}

// A Service's or a NetworkPolicy's status that is not JSON is an error
// naming the document, the object and the annotation, with -p and uninject.
func TestMalformedObjectStatuses(t *testing.T) {
	for kind, doc := range map[string]string{
		"Service shop/api":       "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop, annotations: {sidecarize.dev/status: '{\"ports\":'}}\nspec: {selector: {app: api}, ports: [{port: 80}]}\n",
		"NetworkPolicy shop/api": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api, namespace: shop, annotations: {sidecarize.dev/status: 'ports: 5'}}\nspec: {podSelector: {matchLabels: {app: api}}}\n",
	} {
		for _, uninject := range []bool{false, true} {
			e := fakeEngine()
			e.Uninject = uninject
			out, _, err := e.Process("in.yaml", []byte(trustInput+"---\n"+doc))
			name := strings.SplitN(kind, " ", 2)
			if err == nil || !strings.Contains(err.Error(), "in.yaml[3]: "+name[0]) || !strings.Contains(err.Error(), "annotation "+transform.AnnotationStatus) || len(out) != 0 {
				t.Errorf("%s (uninject %v): err %v, %d bytes out", kind, uninject, err, len(out))
			}
		}
	}
}

// A workload named <other>-<part> (a part generated object names carry:
// <workload>-<pattern>-dashboard) whose forged status says it was injected
// as <other> would read <other>'s <other>-<pattern>-dashboard as its own
// <other>-<pattern> renamed with the suffix -dashboard, and drop it.
func TestSuffixThatIsAPart(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-dashboard
  annotations:
    sidecarize.dev/status: '{"version":"test","workload":"Deployment/web","patterns":["fake"],"objects":[{"kind":"ConfigMap","name":"web-fake"}]}'
spec:
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: x, image: "example.com/x:1.0"}]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-fake-dashboard
  labels: {app.kubernetes.io/managed-by: sidecarize}
  annotations: {sidecarize.dev/owner: Deployment/web}
data: {dashboard.json: "{}"}
`
	for _, uninject := range []bool{true, false} {
		e := fakeEngine()
		e.Uninject = uninject
		out, _, err := e.Process("in.yaml", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if parseStream(t, out).find(t, "ConfigMap", "", "web-fake-dashboard") == nil {
			t.Errorf("uninject=%v: web's dashboard was dropped by web-dashboard's forged status:\n%s", uninject, out)
		}
	}
}

// A status larger than the API server lets all of an object's annotations
// be (256 KiB) is not one sidecarize wrote: it is refused before it is
// read, so a forged status cannot make the run's time grow with its square.
func TestOversizedStatus(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"patterns":["fake"],"objects":[`)
	for i := 0; b.Len() < 300<<10; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"kind":"ConfigMap","name":"api-fake-%d"}`, i)
	}
	b.WriteString(`]}`)
	for _, uninject := range []bool{true, false} {
		s := injected(t, fakeEngine())
		setRaw(s, t, "shop", "api", b.String())
		e := fakeEngine()
		e.Uninject = uninject
		_, _, err := e.Process("out.yaml", s.bytes(t, nil))
		if err == nil || !strings.Contains(err.Error(), "256 KiB") {
			t.Errorf("uninject %v: want the 256 KiB error, got %v", uninject, err)
		}
	}
}
