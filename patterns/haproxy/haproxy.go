// Package haproxy is the proxy kit of the monitor, ambassador and tls
// patterns: the HAProxy helper container (the official image, the generated
// config from a ConfigMap, no writes to the root filesystem), the data of
// the shared blocks of templates/haproxy-base.cfg.tmpl, and the option checks
// the proxies share.
package haproxy

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sidecarize/sidecarize/transform"
)

// DefaultImage is the current HAProxy LTS branch (3.4), official Alpine
// image. The generated configs load on it and on 2.6 (Debian 12's): the
// tests run both (internal/golden's matrix, the e2e pod simulator).
// Override with spec.images.haproxy (a digest pins it fully).
const DefaultImage = "haproxy:3.4-alpine"

// ConfigDir is where the official image reads its config.
const ConfigDir = "/usr/local/etc/haproxy"

// UID is the haproxy user of the official images (uid 99), numeric so
// runAsNonRoot can be verified.
const UID int64 = 99

// Spec describes one HAProxy helper.
type Spec struct {
	Name      string // container name
	ConfigMap string // ConfigMap holding haproxy.cfg
	Volume    string // pod volume name for it
	Ports     []corev1.ContainerPort
	// ProbePort is checked by the startup and readiness probes.
	ProbePort int32
	Resources *corev1.ResourceRequirements
	// ExtraMounts (e.g. TLS certificates) and volumes.
	ExtraMounts []corev1.VolumeMount
	// Env is the container's environment, e.g. the pod namespace from the
	// downward API for "${POD_NAMESPACE}" in the config.
	Env []corev1.EnvVar
	// Dir, when set, is passed as `-C <dir>`: HAProxy changes to it before
	// loading files, so the config names mounted files (a certificate)
	// relative to it and validates with `haproxy -c` wherever they are laid
	// out (the golden harness, the pod simulator).
	Dir string
}

// Inject adds the config volume and the container to the workload.
func Inject(w *transform.Workload, s Spec) error {
	if err := w.AddVolume(corev1.Volume{
		Name: s.Volume,
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.ConfigMap},
		}},
	}); err != nil {
		return err
	}
	uid := UID
	c := corev1.Container{
		Name:  s.Name,
		Image: w.Image("haproxy", DefaultImage),
		// -W master-worker, -db stay in the foreground; the entrypoint of the
		// official image does the same for "haproxy" commands.
		Command: command(s.Dir),
		Ports:   s.Ports,
		Env:     s.Env,
		VolumeMounts: append([]corev1.VolumeMount{{
			Name: s.Volume, MountPath: ConfigDir, ReadOnly: true,
		}}, s.ExtraMounts...),
		StartupProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(s.ProbePort)}},
			PeriodSeconds:    1,
			FailureThreshold: 30,
		},
		SecurityContext: &corev1.SecurityContext{RunAsUser: &uid, RunAsGroup: &uid},
	}
	if s.Resources != nil {
		c.Resources = *s.Resources
	}
	return w.AddContainer(c)
}

// command is the container's command: the official image's entrypoint turns
// "haproxy ..." into the same.
func command(dir string) []string {
	cmd := []string{"haproxy", "-W", "-db"}
	if dir != "" {
		cmd = append(cmd, "-C", dir)
	}
	return append(cmd, "-f", ConfigDir+"/haproxy.cfg")
}
