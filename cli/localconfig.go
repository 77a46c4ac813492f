package cli

import (
	"bytes"
	"strings"

	"github.com/sidecarize/sidecarize/transform"
)

// Documents that configure tools rather than the cluster are not written to
// stdout or -o: sidecarize's own config (a sidecarize.yaml kept in the
// manifests directory) and documents annotated
// config.kubernetes.io/local-config: "true" (the KRM convention that
// kustomize and kpt follow for their own files). `kubectl apply -f out/`
// would fail on them. -i keeps them (it rewrites the user's sources), and so
// do --check and --diff without -o, which compare with the inputs.
// An input file left with no documents is not written at all.

const localConfigAnnotation = "config.kubernetes.io/local-config"

// isLocalConfig reports whether a document is configuration for tools.
func isLocalConfig(d *transform.Doc) bool {
	kind := d.Kind()
	if kind != transform.ConfigKind && !bytes.Contains(d.Raw, []byte(localConfigAnnotation)) {
		return false
	}
	n, err := d.Node()
	if err != nil || n == nil {
		return false
	}
	if kind == transform.ConfigKind && strings.HasPrefix(n.GetApiVersion(), "sidecarize.dev/") {
		return true
	}
	return strings.TrimSpace(n.GetAnnotations()[localConfigAnnotation]) == "true"
}

// withoutLocalConfig drops the tools' documents from what is written.
func withoutLocalConfig(inputs []*input) []*input {
	var out []*input
	for _, in := range inputs {
		var keep []*transform.Doc
		dropped := false
		for _, d := range in.docs {
			if isLocalConfig(d) {
				dropped = true
				continue
			}
			keep = append(keep, d)
		}
		if !dropped {
			out = append(out, in)
			continue
		}
		if len(keep) == 0 {
			continue
		}
		in.docs = keep
		out = append(out, in)
	}
	return out
}
