package transform_test

import (
	"testing"

	"github.com/sidecarize/sidecarize/transform"
)

// FuzzInject feeds arbitrary streams through the inject path: it must never
// panic, and when it succeeds, its output must be stable on a second run.
func FuzzInject(f *testing.F) {
	seeds := []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, annotations: {sidecarize.dev/inject: fake}}\nspec:\n  template:\n    metadata: {labels: {app: a}}\n    spec: {containers: [{name: a, image: 'x:1', ports: [{containerPort: 8080}]}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selector: {app: a}, ports: [{port: 80, targetPort: 8080}]}\n",
		"kind: List\nitems: [{kind: Pod, apiVersion: v1, metadata: {name: p, annotations: {sidecarize.dev/inject: fake}}, spec: {containers: []}}]\n",
		"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: 'b:1', ports: [{containerPort: 8080}]}]}}}}}\n",
		"kind: Deployment\nspec: {template: {spec: 3}}\n",
		"{\"kind\": \"Pod\", \"metadata\": {\"annotations\": {\"sidecarize.dev/status\": \"{}\"}}}",
		"---\n---\n# only comments\n",
		"kind: Service\nspec: {ports: [{port: x}]}\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, e := range []*transform.Engine{
			{Patterns: []transform.Pattern{fakePattern{}}, Version: "fuzz"},
			{Patterns: []transform.Pattern{fakePattern{}}, Version: "fuzz", Flags: transform.Flags{Patterns: []string{"fake"}}},
			{Patterns: []transform.Pattern{fakePattern{}}, Version: "fuzz", Uninject: true},
		} {
			out, _, err := e.Process("fuzz.yaml", []byte(in))
			if err != nil {
				continue
			}
			again, _, err := e.Process("fuzz.yaml", out)
			if err != nil {
				t.Fatalf("second run failed: %v\ninput:\n%s\noutput:\n%s", err, in, out)
			}
			if string(again) != string(out) && !e.Uninject {
				t.Fatalf("not idempotent\ninput:\n%s\nfirst:\n%s\nsecond:\n%s", in, out, again)
			}
		}
	})
}
