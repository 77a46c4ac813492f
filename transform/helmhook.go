package transform

import (
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Helm hooks. Helm 4 post-renders hooks with the templates (Helm 3 does not
// post-render hooks at all), so a hook workload — a pre-install migration
// Job — can be injected. Helm creates hooks before the release's other
// objects and waits for each, so a ConfigMap the injected Job mounts would
// only appear after the Job had waited for it in vain. The generated objects
// of a hook workload therefore become hooks of the same events, with its
// delete policy and a weight one lower: Helm creates them first (hooks run
// in weight order) and deletes them with it.
const (
	helmHook             = "helm.sh/hook"
	helmHookWeight       = "helm.sh/hook-weight"
	helmHookDeletePolicy = "helm.sh/hook-delete-policy"
)

// carryHelmHook gives a generated object the hook annotations of the
// workload it was generated for, if that workload is a Helm hook.
func (w *Workload) carryHelmHook(n *yaml.RNode) error {
	if w.obj == nil || w.obj.node == nil {
		return nil
	}
	anns := w.obj.node.GetAnnotations()
	events := strings.TrimSpace(anns[helmHook])
	if events == "" {
		return nil
	}
	// Helm reads a weight that is not a number as 0.
	weight, err := strconv.Atoi(strings.TrimSpace(anns[helmHookWeight]))
	if err != nil {
		weight = 0
	}
	set := [][2]string{{helmHook, events}, {helmHookWeight, strconv.Itoa(weight - 1)}}
	if p := anns[helmHookDeletePolicy]; p != "" {
		set = append(set, [2]string{helmHookDeletePolicy, p})
	}
	for _, kv := range set {
		if err := setMetaKey(n, "annotations", kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}
