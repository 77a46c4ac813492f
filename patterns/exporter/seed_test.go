package exporter_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns/exporter"
	"github.com/sidecarize/sidecarize/transform"
)

// podTemplate decodes the pod template of the Deployment name in stream.
func podTemplate(t *testing.T, stream []byte, name string) corev1.PodTemplateSpec {
	t.Helper()
	objs := golden.Objects(t, stream)
	d, ok := objs["Deployment/"+name]
	if !ok {
		t.Fatalf("no Deployment/%s in the stream", name)
	}
	tmpl, err := d.Pipe(yaml.Lookup("spec", "template"))
	if err != nil || tmpl == nil {
		t.Fatalf("Deployment/%s: no pod template (%v)", name, err)
	}
	b, err := tmpl.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var pt corev1.PodTemplateSpec
	if err := json.Unmarshal(b, &pt); err != nil {
		t.Fatal(err)
	}
	return pt
}

func container(t *testing.T, ps corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range ps.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// postgresTarget is what a DATA_SOURCE_URI points at, with libpq's defaults
// filled in (port 5432; the database defaults to the user's name).
func postgresTarget(t *testing.T, uri, user string) string {
	t.Helper()
	u, err := url.Parse("postgresql://" + uri)
	if err != nil {
		t.Fatalf("DATA_SOURCE_URI %q: %v", uri, err)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = user
	}
	return u.Hostname() + ":" + port + "/" + db + "?sslmode=" + u.Query().Get("sslmode")
}

// talkProductsDBAfter records the products-db pod of seed 2
// (demo/README.md) after its demo 2, which added the exporter by hand: the
// database container, and wrouesnel/postgres_exporter on 9187 ("metrics")
// with the connection in env, the password inline, scraped through the
// prometheus.io/port annotation.
func talkProductsDBAfter() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app": "products-db"},
			Annotations: map[string]string{"prometheus.io/port": "9187"},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "db",
			Image: "widgetario/products-db:postgres",
			Ports: []corev1.ContainerPort{{Name: "db", ContainerPort: 5432}},
		}, {
			Name:  "exporter",
			Image: "wrouesnel/postgres_exporter:v0.8.0",
			Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9187}},
			Env: []corev1.EnvVar{
				{Name: "DATA_SOURCE_URI", Value: "localhost?sslmode=disable"},
				{Name: "DATA_SOURCE_USER", Value: "postgres"},
				{Name: "DATA_SOURCE_PASS", Value: "widgetario"},
			},
		}}},
	}
}

// TestSeedProductsDB: seed 2's products-db (testdata/seed-products-db) with
// `exporter: {type: postgres, secretRef: …, scrape: annotations}` gives the
// pod of the talk's demo 2 (talkProductsDBAfter), minus the inline
// password, which comes from the Secret instead.
func TestSeedProductsDB(t *testing.T) {
	dir := filepath.Join("testdata", "seed-products-db")
	input, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e := golden.Engine(t, dir, []transform.Pattern{exporter.Pattern{}})
	out, _, err := e.Process("input.yaml", input)
	if err != nil {
		t.Fatal(err)
	}
	got, want := podTemplate(t, out, "products-db"), talkProductsDBAfter()

	// Same containers, in the same order, and the app container untouched.
	var gotNames, wantNames []string
	for _, c := range got.Spec.Containers {
		gotNames = append(gotNames, c.Name)
	}
	for _, c := range want.Spec.Containers {
		wantNames = append(wantNames, c.Name)
	}
	if d := cmp.Diff(wantNames, gotNames); d != "" {
		t.Errorf("containers (-seed +sidecarize):\n%s", d)
	}
	if d := cmp.Diff(container(t, want.Spec, "db"), container(t, got.Spec, "db")); d != "" {
		t.Errorf("app container changed (-seed +sidecarize):\n%s", d)
	}

	// The exporter: a postgres exporter image, the seed's metrics port.
	ge, we := container(t, got.Spec, "exporter"), container(t, want.Spec, "exporter")
	if !strings.Contains(ge.Image, "postgres-exporter:v") {
		t.Errorf("exporter image %q: want the upstream postgres exporter pinned by tag", ge.Image)
	}
	if len(ge.Ports) != 1 || len(we.Ports) != 1 || ge.Ports[0].ContainerPort != we.Ports[0].ContainerPort {
		t.Errorf("exporter ports %v, seed %v", ge.Ports, we.Ports)
	}
	// The seed's prometheus.io/port annotation.
	if g, w := got.Annotations["prometheus.io/port"], want.Annotations["prometheus.io/port"]; g != w {
		t.Errorf("prometheus.io/port = %q, seed %q", g, w)
	}

	// Connection settings: same user and target; the password from the
	// Secret instead of inline.
	genv, wenv := envOf(ge), envOf(we)
	if g, w := genv["DATA_SOURCE_USER"], wenv["DATA_SOURCE_USER"]; g.Value != w.Value || g.ValueFrom != nil {
		t.Errorf("DATA_SOURCE_USER = %+v, seed %+v", g, w)
	}
	user := wenv["DATA_SOURCE_USER"].Value
	if g, w := postgresTarget(t, genv["DATA_SOURCE_URI"].Value, user), postgresTarget(t, wenv["DATA_SOURCE_URI"].Value, user); g != w {
		t.Errorf("DATA_SOURCE_URI targets %s, seed %s", g, w)
	}
	if wenv["DATA_SOURCE_PASS"].Value == "" {
		t.Fatalf("the seed is expected to carry an inline password")
	}
	pass := genv["DATA_SOURCE_PASS"]
	wantPass := corev1.EnvVar{Name: "DATA_SOURCE_PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "products-db-password"}, Key: "password",
	}}}
	if d := cmp.Diff(wantPass, pass); d != "" {
		t.Errorf("DATA_SOURCE_PASS (-want +got):\n%s", d)
	}
	if len(genv) != len(wenv) {
		t.Errorf("exporter env has %d variables, the seed %d: %v", len(genv), len(wenv), ge.Env)
	}
}
