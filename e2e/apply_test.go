package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/cluster"
	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// TestApply: every golden and demo output passes the real kube-apiserver's
// strict server-side validation, and no container sidecarize added makes a
// pod template fail Pod Security "restricted".
func TestApply(t *testing.T) {
	files, err := outputFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no generated manifests found under %s for %v", env.RepoRoot(), outputGlobs)
	}
	c := kube(t)
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(env.RepoRoot(), f))
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxFor(t, 2*time.Minute)
			if err := checkApply(ctx, c, data); err != nil {
				t.Errorf("apply --dry-run=server --validate=strict: %v", err)
			}
			results, err := checkRestricted(ctx, c, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				for _, v := range r.AppViolations {
					t.Logf("%s: app's own violation (allowed): %s", r.Workload, v)
				}
				for _, v := range r.InjectedViolations {
					t.Errorf("%s: injected container/volume violates Pod Security restricted: %s", r.Workload, v)
				}
			}
		})
	}
}

// checkApply creates the namespaces the objects use, then runs
// `kubectl apply --dry-run=server --validate=strict` on the stream as is, and
// the same as a server-side apply.
func checkApply(ctx context.Context, c *cluster.Cluster, data []byte) error {
	objs, err := manifest.Parse(data)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return errors.New("no objects in stream")
	}
	nss := map[string]bool{}
	for _, o := range objs {
		if ns := o.Namespace(); ns != "" {
			nss[ns] = true
		}
		if o.Kind() == "Namespace" {
			nss[o.Name()] = true
		}
	}
	for ns := range nss {
		if err := c.EnsureNamespace(ctx, ns, nil); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if o.Name() == "" {
			// kubectl apply cannot use generateName (a Job created with
			// kubectl create): the stream is created instead, still
			// validated strictly by the server.
			if _, err := c.Kubectl(ctx, data, "create", "--dry-run=server", "--validate=strict", "-f", "-"); err != nil {
				return fmt.Errorf("create (generateName): %s", cluster.Stderr(err))
			}
			return nil
		}
	}
	_, err = c.Kubectl(ctx, data, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
	if err != nil {
		return errors.New(cluster.Stderr(err))
	}
	// Server-side apply (what GitOps controllers use) also rejects duplicate
	// keys in associative lists: two containers, ports or env vars alike.
	_, err = c.Kubectl(ctx, data, "apply", "--server-side", "--field-manager=e2e-check", "--dry-run=server", "--validate=strict", "-f", "-")
	if err != nil {
		return fmt.Errorf("server-side apply: %s", cluster.Stderr(err))
	}
	return nil
}

// restrictedResult is the Pod Security outcome of one pod template.
type restrictedResult struct {
	Workload           string // Kind/name
	Injected           []string
	AppViolations      []string
	InjectedViolations []string
}

// checkRestricted creates each pod template of the stream as a Pod (server
// dry-run) in the restricted namespace and attributes each violation to the
// containers/volumes it names. A violation naming an injected container or
// volume is an InjectedViolation; an unexpected (non Pod Security) rejection is
// an error.
func checkRestricted(ctx context.Context, c *cluster.Cluster, data []byte) ([]restrictedResult, error) {
	objs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	var out []restrictedResult
	for _, o := range objs {
		tmpl := o.PodTemplate()
		if tmpl == nil {
			continue
		}
		st, err := manifest.StatusOf(o)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", o.Kind(), o.Name(), err)
		}
		r := restrictedResult{Workload: o.Kind() + "/" + o.Name()}
		if st != nil {
			r.Injected = append(append(r.Injected, st.InitContainers...), st.Containers...)
		}
		spec := manifest.Map(tmpl, "spec")
		if spec == nil {
			return nil, fmt.Errorf("%s: pod template has no spec", r.Workload)
		}
		sa := manifest.Str(spec, "serviceAccountName")
		if sa == "" {
			sa = manifest.Str(spec, "serviceAccount")
		}
		if sa != "" {
			if err := c.EnsureServiceAccount(ctx, restrictedNS, sa); err != nil {
				return nil, err
			}
		}
		meta := map[string]any{
			"name":      "e2e-" + strings.ToLower(o.Kind()),
			"namespace": restrictedNS,
		}
		if l := manifest.Map(tmpl, "metadata", "labels"); l != nil {
			meta["labels"] = l
		}
		if a := manifest.Map(tmpl, "metadata", "annotations"); a != nil {
			meta["annotations"] = a
		}
		if vcts := manifest.Slice(o, "spec", "volumeClaimTemplates"); len(vcts) > 0 {
			// As the StatefulSet controller does: a PVC volume per claim template.
			spec = copyMap(spec)
			vols, _ := spec["volumes"].([]any)
			vols = append([]any(nil), vols...)
			for _, v := range vcts {
				n := manifest.Str(v.(map[string]any), "metadata", "name")
				vols = append(vols, map[string]any{"name": n, "persistentVolumeClaim": map[string]any{"claimName": n + "-" + o.Name() + "-0"}})
			}
			spec["volumes"] = vols
		}
		pod := manifest.Object{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
		_, err = c.Kubectl(ctx, pod.JSON(), "create", "--dry-run=server", "-o", "name", "-f", "-")
		if err != nil {
			msg := cluster.Stderr(err)
			vs, ok := cluster.ParsePodSecurity(msg)
			if !ok {
				return nil, fmt.Errorf("%s: pod rejected for a reason other than Pod Security: %s", r.Workload, msg)
			}
			for _, v := range vs {
				var inj []string
				for _, n := range v.Containers {
					if st.Injected(n) {
						inj = append(inj, "container "+n)
					}
				}
				for _, n := range v.Volumes {
					if st.InjectedVolume(n) {
						inj = append(inj, "volume "+n)
					}
				}
				if len(inj) > 0 {
					sort.Strings(inj)
					r.InjectedViolations = append(r.InjectedViolations, fmt.Sprintf("%s [%s]", v.Text, strings.Join(inj, ", ")))
				} else {
					r.AppViolations = append(r.AppViolations, v.Text)
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
