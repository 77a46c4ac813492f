package transform_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarize/sidecarize/transform"
)

// guardedPattern has an option of each consent category.
type guardedPattern struct{}

type guardedOptions struct {
	Port      string                       `json:"port,omitempty"`
	Timeout   string                       `json:"timeout,omitempty"`
	Image     string                       `json:"image,omitempty" consent:"images"`
	Args      []string                     `json:"args,omitempty" consent:"exporters"`
	Secret    string                       `json:"secret,omitempty" consent:"secrets"`
	Collector string                       `json:"collector,omitempty" consent:"collectors"`
	Files     []string                     `json:"files,omitempty" consent:"logFiles"`
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	Upstreams []guardedUpstream            `json:"upstreams,omitempty"`
}

type guardedUpstream struct {
	Name    string `json:"name"`
	Timeout string `json:"timeout,omitempty"`
	CA      *struct {
		Secret string `json:"secret"`
	} `json:"ca,omitempty" consent:"secrets"`
}

func (*guardedOptions) Validate() error { return nil }

func (guardedPattern) Name() string                  { return "guarded" }
func (guardedPattern) ConfigKey() string             { return "guarded" }
func (guardedPattern) Summary() string               { return "consent test pattern" }
func (guardedPattern) NewOptions() transform.Options { return &guardedOptions{Timeout: "5s"} }
func (guardedPattern) Inject(w *transform.Workload, _ transform.Options) error {
	return nil
}

const guardedWorkload = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    sidecarize.dev/inject: guarded
%s
spec:
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: example.com/api:1.0
        volumeMounts: [{name: token, mountPath: /var/run/token}, {name: data, mountPath: /data}]
      volumes: [{name: token, secret: {secretName: t}}, {name: data, persistentVolumeClaim: {claimName: d}}]
`

// Annotations may choose and tune patterns; what reaches beyond the pod
// needs the config's consent, and nothing in the manifest widens it.
func TestAnnotationConsent(t *testing.T) {
	tests := map[string]struct {
		annotations string // lines under metadata.annotations
		config      string // spec of the config ("" none)
		set         []string
		want        string // substring of the error; "" = accepted
	}{
		"tuning":                   {annotations: `sidecarize.dev/guarded.timeout: 9s`},
		"tuning a named entry":     {annotations: `sidecarize.dev/guarded.upstreams.pay.timeout: 2s`},
		"image":                    {annotations: `sidecarize.dev/guarded.image: evil.example/x:1`, want: `metadata.annotations["sidecarize.dev/guarded.image"]: guarded.image: images need the config's consent: add "images" to spec.annotations.allow`},
		"image allowed":            {annotations: `sidecarize.dev/guarded.image: evil.example/x:1`, config: `annotations: {allow: [images]}`},
		"image from --set":         {set: []string{"guarded.image=ok.example/x:1"}},
		"image as in config":       {annotations: `sidecarize.dev/guarded.image: ok.example/x:1`, config: `rules: [{select: {}, guarded: {image: "ok.example/x:1"}}]`},
		"image other than config":  {annotations: `sidecarize.dev/guarded.image: evil.example/x:1`, config: `rules: [{select: {}, guarded: {image: "ok.example/x:1"}}]`, want: `guarded.image: images need`},
		"other category allowed":   {annotations: `sidecarize.dev/guarded.image: evil.example/x:1`, config: `annotations: {allow: [secrets]}`, want: `"images"`},
		"args":                     {annotations: `sidecarize.dev/guarded.args: --x`, want: `guarded.args: exporter arguments and environment need`},
		"secret":                   {annotations: `sidecarize.dev/guarded.secret: db`, want: `guarded.secret: Secrets`},
		"collector":                {annotations: `sidecarize.dev/guarded.collector: evil:9411`, want: `guarded.collector: trace collectors need`},
		"CA of a named entry":      {annotations: `sidecarize.dev/guarded.upstreams.pay.ca.secret: pay-ca`, want: `metadata.annotations["sidecarize.dev/guarded.upstreams.pay.ca.secret"]: guarded.upstreams.pay.ca: Secrets`},
		"CA in a whole list":       {annotations: `sidecarize.dev/guarded.upstreams: '[{name: pay, ca: {secret: pay-ca}}]'`, want: `metadata.annotations["sidecarize.dev/guarded.upstreams"]: guarded.upstreams.pay.ca: Secrets`},
		"resources under ceiling":  {annotations: `sidecarize.dev/guarded.resources: '{limits: {cpu: 500m, memory: 1Gi}}'`},
		"resources over ceiling":   {annotations: `sidecarize.dev/guarded.resources: '{limits: {cpu: "2"}}'`, want: `(limits.cpu 2 > 1) need the config's consent: add "resources"`},
		"resources not ceilinged":  {annotations: `sidecarize.dev/guarded.resources: '{requests: {nvidia.com/gpu: "1"}}'`, want: `requests.nvidia.com/gpu has no ceiling`},
		"resources higher ceiling": {annotations: `sidecarize.dev/guarded.resources: '{limits: {cpu: "2"}}'`, config: `annotations: {maxResources: {cpu: "4"}}`},
		"resources allowed":        {annotations: `sidecarize.dev/guarded.resources: '{limits: {cpu: "64"}}'`, config: `annotations: {allow: [resources]}`},
		"log files in a new dir":   {annotations: `sidecarize.dev/guarded.files: /var/log/api/*.log`},
		"log files in the claim":   {annotations: `sidecarize.dev/guarded.files: /data/logs/api.log`},
		"log files in a Secret":    {annotations: `sidecarize.dev/guarded.files: /var/run/token/token`, want: `/var/run/token/token: volume "token" at /var/run/token in container "api" is not an emptyDir`},
		"log files allowed":        {annotations: `sidecarize.dev/guarded.files: /var/run/token/token`, config: `annotations: {allow: [logFiles]}`},
		"two refusals":             {annotations: "sidecarize.dev/guarded.image: evil.example/x:1\n    sidecarize.dev/guarded.secret: db", want: "guarded.image: images need the config's consent: add \"images\" to spec.annotations.allow in the sidecarize config, or set the option in the config itself\nin.yaml[0]: Deployment api: metadata.annotations[\"sidecarize.dev/guarded.secret\"]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pats := []transform.Pattern{guardedPattern{}}
			e := &transform.Engine{Patterns: pats, Version: "test", Flags: transform.Flags{Set: tc.set}}
			anns := ""
			if tc.annotations != "" {
				anns = "    " + tc.annotations
			}
			if len(tc.set) > 0 {
				e.Flags.Patterns = []string{"guarded"}
			}
			if tc.config != "" {
				cfg, err := transform.LoadConfig("config.yaml", []byte("apiVersion: sidecarize.dev/v1alpha1\nkind: Sidecarize\nspec:\n  "+tc.config+"\n"), pats)
				if err != nil {
					t.Fatal(err)
				}
				e.Config = cfg
			}
			_, _, err := e.Process("in.yaml", []byte(strings.Replace(guardedWorkload, "%s", anns, 1)))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted; want an error containing %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "in.yaml[0]: Deployment api: metadata.annotations[") {
				t.Errorf("the error does not name document, workload and annotation first: %v", err)
			}
		})
	}
}

func TestAnnotationPolicyValidation(t *testing.T) {
	_, err := transform.LoadConfig("c.yaml", []byte("apiVersion: sidecarize.dev/v1alpha1\nkind: Sidecarize\nspec: {annotations: {allow: [images, everything]}}\n"), []transform.Pattern{guardedPattern{}})
	if err == nil || !strings.Contains(err.Error(), `spec.annotations.allow[1]: "everything": unknown (categories: images, exporters, secrets, collectors, resources, logFiles)`) {
		t.Errorf("got %v", err)
	}
	_, err = transform.LoadConfig("c.yaml", []byte("apiVersion: sidecarize.dev/v1alpha1\nkind: Sidecarize\nspec: {annotations: {maxResources: {cpu: lots}}}\n"), []transform.Pattern{guardedPattern{}})
	if err == nil || !strings.Contains(err.Error(), `spec.annotations.maxResources.cpu: "lots": not a quantity`) {
		t.Errorf("got %v", err)
	}
}

// Consent comes from the config only: a Sidecarize document among the
// manifests, or spec.annotations-like annotations, widen nothing.
func TestManifestCannotWidenConsent(t *testing.T) {
	in := `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: sneaky}
spec:
  annotations: {allow: [images, secrets, exporters, collectors, resources, logFiles]}
---
` + strings.Replace(guardedWorkload, "%s", "    sidecarize.dev/guarded.image: evil.example/x:1\n    sidecarize.dev/annotations.allow: images", 1)
	pats := []transform.Pattern{guardedPattern{}}
	cfg, err := transform.LoadConfig("config.yaml", []byte("apiVersion: sidecarize.dev/v1alpha1\nkind: Sidecarize\nspec:\n  annotations: {allow: [secrets]}\n"), pats)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = (&transform.Engine{Patterns: pats, Version: "test", Config: cfg}).Process("in.yaml", []byte(in))
	if err == nil || !strings.Contains(err.Error(), `guarded.image: images need the config's consent`) {
		t.Errorf("got %v", err)
	}
}
