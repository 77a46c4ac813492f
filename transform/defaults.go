package transform

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// NonRootUID is the user injected containers run as unless a pattern sets
// one: the conventional "nonroot" UID of distroless images. A numeric UID is
// needed because runAsNonRoot cannot be verified for images whose USER is a
// name (haproxy's official image runs as "haproxy").
const NonRootUID int64 = 65532

// applySecureDefaults fills in the secure defaults
// (docs/contract.md#secure-defaults) where the pattern left the
// fields empty: Pod Security "restricted" compliant, resources bounded.
func applySecureDefaults(c *corev1.Container) {
	t, f := true, false
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	sc := c.SecurityContext
	if sc.RunAsNonRoot == nil {
		sc.RunAsNonRoot = &t
	}
	if sc.RunAsUser == nil {
		uid := NonRootUID
		sc.RunAsUser = &uid
	}
	if sc.RunAsGroup == nil {
		gid := NonRootUID
		sc.RunAsGroup = &gid
	}
	if sc.AllowPrivilegeEscalation == nil {
		sc.AllowPrivilegeEscalation = &f
	}
	if sc.ReadOnlyRootFilesystem == nil {
		sc.ReadOnlyRootFilesystem = &t
	}
	if sc.Capabilities == nil {
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	}
	if sc.SeccompProfile == nil {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	if c.Resources.Requests == nil && c.Resources.Limits == nil {
		c.Resources = DefaultResources()
	}
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = corev1.PullIfNotPresent
	}
}

// DefaultResources are the requests and limits of a helper container unless
// its pattern's `resources` option says otherwise.
func DefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("200m"),
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
	}
}
