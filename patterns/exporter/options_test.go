package exporter_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/patterns/exporter"
	"github.com/sidecarize/sidecarize/transform"
)

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		set     func(o *exporter.Options)
		wantErr string // "" = valid
	}{
		"postgres with secret":   {set: func(o *exporter.Options) { o.SecretRef = &validate.SecretRef{Name: "db"} }},
		"type required":          {set: func(o *exporter.Options) { o.Type = "" }, wantErr: "type: required: one of custom, mariadb"},
		"postgres needs secret":  {set: func(o *exporter.Options) {}, wantErr: "secretRef: the postgres exporter needs"},
		"mysql needs secret":     {set: func(o *exporter.Options) { o.Type = "mysql" }, wantErr: "secretRef"},
		"redis without secret":   {set: func(o *exporter.Options) { o.Type = "redis" }},
		"mongodb without secret": {set: func(o *exporter.Options) { o.Type = "mongodb" }},
		"nginx takes no secret":  {set: func(o *exporter.Options) { o.Type = "nginx"; o.SecretRef = &validate.SecretRef{Name: "x"} }, wantErr: "takes no credentials"},
		"unknown type":           {set: func(o *exporter.Options) { o.Type = "oracle" }, wantErr: `type: "oracle": must be one of custom, mariadb, mongodb, mysql, nginx, postgres, redis`},
		"usernameKey needs secretRef": {set: func(o *exporter.Options) { o.Type = "redis"; o.UsernameKey = "user" },
			wantErr: "usernameKey: needs secretRef"},
		"metrics port below 1024": {set: func(o *exporter.Options) { o.SecretRef = &validate.SecretRef{Name: "db"}; o.MetricsPort = 80 }, wantErr: "metricsPort: 80"},
		"bad scrape":              {set: func(o *exporter.Options) { o.SecretRef = &validate.SecretRef{Name: "db"}; o.Scrape = "pull" }, wantErr: "scrape:"},
		"rules":                   {set: func(o *exporter.Options) { o.Type = "redis"; o.Rules = true }},
		"rules need the operator": {set: func(o *exporter.Options) { o.Type = "redis"; o.Rules = true; o.Scrape = "annotations" }, wantErr: "rules: need scrape auto, serviceMonitor or podMonitor"},
		"rules need a preset": {set: func(o *exporter.Options) {
			o.Type, o.Image, o.MetricsPort, o.Rules = "custom", "example/exporter:1.0", 9200, true
		}, wantErr: "rules: type custom has no known up metric"},
		"bad alertFor": {set: func(o *exporter.Options) { o.Type = "redis"; o.AlertFor = "5us" }, wantErr: `alertFor: "5us": Prometheus takes ms, s, m or h`},
		"inline password arg": {set: func(o *exporter.Options) {
			o.SecretRef = &validate.SecretRef{Name: "db"}
			o.Args = []string{"--auto-discover-databases", "--password=x"}
		},
			wantErr: "args[1]"},
		"password file arg": {set: func(o *exporter.Options) {
			o.Type = "mongodb"
			o.Args = []string{"--mongodb.password-file=/etc/secret/pass"}
		}},
		"password from env arg": {set: func(o *exporter.Options) {
			o.Type = "custom"
			o.Image, o.MetricsPort = "x:1", 9000
			o.Args = []string{"--db.password=$(DB_PASSWORD)"}
		}},
		"password in a URL arg": {set: func(o *exporter.Options) {
			o.Type = "redis"
			o.Args = []string{"--redis.addr=redis://u:secret@localhost:6379"}
		},
			wantErr: "args[0]"},
		"custom needs image": {set: func(o *exporter.Options) { o.Type = "custom"; o.MetricsPort = 9000 }, wantErr: "image:"},
		"custom needs port":  {set: func(o *exporter.Options) { o.Type = "custom"; o.Image = "x:1" }, wantErr: "metricsPort:"},
		"custom secretRef": {set: func(o *exporter.Options) {
			o.Type = "custom"
			o.Image = "x:1"
			o.MetricsPort = 9000
			o.SecretRef = &validate.SecretRef{Name: "s"}
		},
			wantErr: "valueFrom.secretKeyRef"},
		"custom inline token": {set: func(o *exporter.Options) {
			o.Type, o.Image, o.MetricsPort = "custom", "x:1", 9000
			o.Env = []corev1.EnvVar{{Name: "API_TOKEN", Value: "abc"}}
		}, wantErr: "env[0] (API_TOKEN): credentials are never inline"},
		"custom DSN with password": {set: func(o *exporter.Options) {
			o.Type, o.Image, o.MetricsPort = "custom", "x:1", 9000
			o.Env = []corev1.EnvVar{{Name: "DSN", Value: "postgres://u:pw@localhost/db"}}
		}, wantErr: "env[0] (DSN)"},
		"sslMode injects a host": {set: func(o *exporter.Options) {
			o.SecretRef = &validate.SecretRef{Name: "db"}
			o.SSLMode = "disable&host=attacker.example.com"
		}, wantErr: `sslMode: "disable&host=attacker.example.com": must be one of disable, allow`},
		"secretRef with a space": {set: func(o *exporter.Options) { o.SecretRef = &validate.SecretRef{Name: "x y"} },
			wantErr: `secretRef: "x y": not a DNS-1123 subdomain`},
		"image with a newline": {set: func(o *exporter.Options) {
			o.SecretRef = &validate.SecretRef{Name: "db"}
			o.Image = "evil:1\n---"
		}, wantErr: `image: "evil:1\n---": not an image reference`},
		"metricsPath with a hash": {set: func(o *exporter.Options) { o.SecretRef = &validate.SecretRef{Name: "db"}; o.MetricsPath = "/m#x" },
			wantErr: `metricsPath: "/m#x": must be a path`},
		"nginx statusPath with a quote": {set: func(o *exporter.Options) { o.Type = "nginx"; o.StatusPath = `/s"x` },
			wantErr: `statusPath: "/s\"x"`},
		"preset env": {set: func(o *exporter.Options) {
			o.SecretRef = &validate.SecretRef{Name: "db"}
			o.Env = []corev1.EnvVar{{Name: "A", Value: "b"}}
		},
			wantErr: "env: only type custom"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := exporter.Default()
			o.Type = "postgres"
			tc.set(o)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("no error, want %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestNoInlinePassword: there is no option to give a password inline, in
// the config file or in an annotation.
func TestNoInlinePassword(t *testing.T) {
	cfg := `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: x}
spec:
  rules:
    - exporter: {type: postgres, password: widgetario}
`
	_, err := transform.LoadConfig("config.yaml", []byte(cfg), []transform.Pattern{exporter.Pattern{}})
	if err == nil || !strings.Contains(err.Error(), `unknown field "password"`) {
		t.Fatalf("config with exporter.password: err = %v, want unknown field", err)
	}
	if err := transform.SetOption(exporter.Default(), "password", "x"); err == nil || !strings.Contains(err.Error(), "unknown option") {
		t.Fatalf("SetOption(password): err = %v, want unknown option", err)
	}
}

// TestImageOverride: spec.images.<type>-exporter overrides a preset's image,
// mariadb shares mysql's.
func TestImageOverride(t *testing.T) {
	cfg := `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: x}
spec:
  images: {mysql-exporter: "registry.example/mysqld-exporter:v0.20.0"}
  rules:
    - exporter: {type: mariadb, secretRef: db}
`
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - {name: db, image: "mariadb:11.8", ports: [{containerPort: 3307}]}
`
	c, err := transform.LoadConfig("config.yaml", []byte(cfg), []transform.Pattern{exporter.Pattern{}})
	if err != nil {
		t.Fatal(err)
	}
	e := &transform.Engine{Patterns: []transform.Pattern{exporter.Pattern{}}, Config: c, Version: "test"}
	out, _, err := e.Process("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: registry.example/mysqld-exporter:v0.20.0", "--mysqld.address=localhost:3307", "--mysqld.username=root"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func Example() {
	cfg := `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: widgetario}
spec:
  nativeSidecars: "false"
  rules:
    - exporter: {type: postgres, secretRef: products-db-password, scrape: annotations}
`
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: products-db}
spec:
  selector: {matchLabels: {app: products-db}}
  template:
    metadata: {labels: {app: products-db}}
    spec:
      containers:
      - {name: db, image: "widgetario/products-db:postgres", ports: [{containerPort: 5432, name: db}]}
`
	c, err := transform.LoadConfig("config.yaml", []byte(cfg), []transform.Pattern{exporter.Pattern{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := &transform.Engine{Patterns: []transform.Pattern{exporter.Pattern{}}, Config: c, Version: "example"}
	out, _, err := e.Process("products-db.yaml", []byte(in))
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := yaml.Parse(string(out))
	if err != nil {
		fmt.Println(err)
		return
	}
	exp, _ := d.Pipe(yaml.Lookup("spec", "template", "spec", "containers"), yaml.MatchElement("name", "exporter"))
	for _, f := range []string{"image", "args", "env"} {
		v, _ := exp.Pipe(yaml.Lookup(f))
		s, _ := v.String()
		fmt.Printf("%s:\n%s", f, s)
	}
	// Output:
	// image:
	// prometheuscommunity/postgres-exporter:v0.20.1
	// args:
	// - --web.listen-address=:9187
	// - --web.telemetry-path=/metrics
	// env:
	// - name: DATA_SOURCE_URI
	//   value: localhost:5432/postgres?sslmode=disable
	// - name: DATA_SOURCE_USER
	//   value: postgres
	// - name: DATA_SOURCE_PASS
	//   valueFrom:
	//     secretKeyRef:
	//       name: products-db-password
	//       key: password
}

// The Secret reference is written {name: …} (a LocalObjectReference), and
// the bare name is read too: in a config rule, --set and annotations.
func TestSecretRefForms(t *testing.T) {
	for _, set := range []struct{ path, value string }{{"secretRef", "db"}, {"secretRef", "{name: db}"}, {"secretRef.name", "db"}} {
		o := exporter.Default()
		o.Type = "postgres"
		if err := transform.SetOption(o, set.path, set.value); err != nil {
			t.Fatalf("%s=%s: %v", set.path, set.value, err)
		}
		if !o.SecretRef.IsSet() || o.SecretRef.Name != "db" || o.Validate() != nil {
			t.Errorf("%s=%s: %+v, %v", set.path, set.value, o.SecretRef, o.Validate())
		}
	}
	o := exporter.Default()
	if err := transform.SetOption(o, "secretRef", "{name: db, namespace: other}"); err == nil {
		t.Errorf("a namespace was accepted: %+v", o.SecretRef)
	}
}

// Every exporter string that reaches the container — a Secret key in a
// secretKeyRef, a user name in an env var or an argument, a database in the
// connection URI — is checked by internal/validate: a hostile value is an
// error naming the option, never written.
func TestHostileConnectionStrings(t *testing.T) {
	hostile := []string{"", "a b", "pass\nword", "$(MYSQLD_EXPORTER_PASSWORD)", "x;y", "a/b", "a:b", "a?b", "a#b", "a&host=evil", `a"b`, strings.Repeat("k", 254)}
	for field, set := range map[string]func(o *exporter.Options, v string){
		"passwordKey": func(o *exporter.Options, v string) { o.PasswordKey = v },
		"usernameKey": func(o *exporter.Options, v string) { o.UsernameKey = v },
		"username":    func(o *exporter.Options, v string) { o.Username = v },
		"database":    func(o *exporter.Options, v string) { o.Database = v },
	} {
		for _, typ := range []string{"postgres", "mysql"} {
			for _, v := range hostile {
				if v == "" && field != "passwordKey" && field != "database" {
					continue // empty means "not set"
				}
				o := exporter.Pattern{}.NewOptions().(*exporter.Options)
				o.Type, o.SecretRef = typ, &validate.SecretRef{Name: "db"}
				set(o, v)
				err := o.Validate()
				if typ == "mysql" && field == "database" {
					continue // mysql takes no database
				}
				if err == nil || !strings.HasPrefix(err.Error(), field+": ") {
					t.Errorf("%s %s=%q: %v", typ, field, v, err)
				}
			}
		}
	}
	// What real Secrets and databases use stays valid.
	o := exporter.Pattern{}.NewOptions().(*exporter.Options)
	o.Type, o.SecretRef = "postgres", &validate.SecretRef{Name: "db"}
	o.PasswordKey, o.UsernameKey, o.Database = "postgres-password", "DB_USER.name_1", "shop_2024-eu"
	if err := o.Validate(); err != nil {
		t.Error(err)
	}
	o.UsernameKey, o.Username = "", "app.reader@shop-1"
	if err := o.Validate(); err != nil {
		t.Error(err)
	}
}
