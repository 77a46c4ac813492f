package logs_test

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/internal/golden"
	"github.com/sidecarize/sidecarize/patterns/logs"
	"github.com/sidecarize/sidecarize/transform"
)

// talkWebAfter records the web pod of seed 2 (demo/README.md) after its
// demo 1, which added a log relay by hand: the app writes /logs/app.log onto
// an emptyDir, and a "logger" container (alpine:3.12) mounts it read-only at
// /logs-ro and runs `tail -f` on the file.
func talkWebAfter() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:         "web",
			Image:        "widgetario/web:dotnet-serilog",
			Ports:        []corev1.ContainerPort{{Name: "web", ContainerPort: 80}},
			VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/logs"}},
		}, {
			Name:         "logger",
			Image:        "alpine:3.12",
			Command:      []string{"sh", "-c", "tail -f /logs-ro/app.log"},
			VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/logs-ro", ReadOnly: true}},
		}},
		Volumes: []corev1.Volume{{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}}
}

// podOf returns the pod template of the Deployment in a stream.
func podOf(t *testing.T, stream []byte) corev1.PodTemplateSpec {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(stream), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.GetKind() != "Deployment" {
			continue
		}
		js, err := n.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(js, &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template
	}
	t.Fatal("no Deployment")
	return corev1.PodTemplateSpec{}
}

// fileOnVolume resolves a file path seen by a container to the volume that
// holds it and the path inside that volume.
func fileOnVolume(c corev1.Container, file string) (volume, rel string, readOnly bool) {
	best := ""
	for _, m := range c.VolumeMounts {
		p := path.Clean(m.MountPath)
		if (file == p || strings.HasPrefix(file, p+"/")) && len(p) > len(best) {
			best, volume, readOnly = p, m.Name, m.ReadOnly
			rel = path.Join(m.SubPath, strings.TrimPrefix(file, p))
		}
	}
	return volume, rel, readOnly
}

// tailedFile is the file a relay container tails: the last word of its
// command (seed 2 runs `sh -c 'tail -f /logs-ro/app.log'`).
func tailedFile(c corev1.Container) (file string, follow string) {
	words := strings.Fields(strings.Join(append(append([]string{}, c.Command...), c.Args...), " "))
	for _, w := range words {
		if w == "-f" || w == "-F" {
			follow = w
		}
	}
	return strings.Trim(words[len(words)-1], `'"`), follow
}

// Seed 2's web Deployment (testdata/seed-tail/input.yaml) with files
// [/logs/app.log] and engine tail gives a pod equivalent to the talk's
// (talkWebAfter): the app
// container writes /logs/app.log onto an emptyDir, a relay container
// mounts the same emptyDir read-only and tails that same file to its
// stdout. The differences are the ones sidecarize adds on purpose: secure
// defaults, an emptyDir sizeLimit, resources, native-sidecar placement,
// `tail -F` (follows rotation) instead of `-f`, and the mount path.
func TestSeedWidgetarioEquivalence(t *testing.T) {
	dir := filepath.Join("testdata", "seed-tail")
	input, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, native := range []string{"true", "false"} {
		t.Run("nativeSidecars="+native, func(t *testing.T) {
			e := golden.Engine(t, dir, []transform.Pattern{logs.Pattern{}})
			e.Config.Spec.NativeSidecars = native
			out, _, err := e.Process("web.yaml", input)
			if err != nil {
				t.Fatal(err)
			}
			got, want := podOf(t, out), talkWebAfter()

			// The app container: as in the seed, plus the log mount.
			gotApp, wantApp := got.Spec.Containers[0], want.Spec.Containers[0]
			if gotApp.Name != wantApp.Name || gotApp.Image != wantApp.Image || fmt.Sprint(gotApp.Ports) != fmt.Sprint(wantApp.Ports) {
				t.Errorf("app container differs: %+v vs %+v", gotApp, wantApp)
			}
			if len(gotApp.VolumeMounts) != len(wantApp.VolumeMounts) {
				t.Errorf("app mounts: %v, seed: %v", gotApp.VolumeMounts, wantApp.VolumeMounts)
			}

			// The relay: in containers (seed; nativeSidecars off) or a native
			// sidecar.
			relay := func(p corev1.PodTemplateSpec) corev1.Container {
				all := append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers[1:]...)
				if len(all) != 1 {
					t.Fatalf("want exactly one relay container, got %d", len(all))
				}
				return all[0]
			}
			gotRelay, wantRelay := relay(got), relay(want)
			if native == "true" {
				if len(got.Spec.InitContainers) != 1 || gotRelay.RestartPolicy == nil || *gotRelay.RestartPolicy != corev1.ContainerRestartPolicyAlways {
					t.Errorf("native: the relay is not a native sidecar")
				}
			} else if len(got.Spec.Containers) != 2 {
				t.Errorf("not native: the relay is not a second container like the seed's logger")
			}

			// The wiring: the file the app writes and the file the relay
			// tails are the same file on the same emptyDir; the relay's
			// mount is read-only; the volume is shared by exactly the two.
			wiring := func(p corev1.PodTemplateSpec, r corev1.Container) (string, string, string, bool) {
				appVol, appRel, appRO := fileOnVolume(p.Spec.Containers[0], "/logs/app.log")
				if appVol == "" || appRO {
					t.Fatalf("the app does not write /logs/app.log on a writable volume")
				}
				file, follow := tailedFile(r)
				rVol, rRel, rRO := fileOnVolume(r, file)
				if rVol != appVol || rRel != appRel {
					t.Fatalf("the relay tails %s = %s:%s, the app writes %s:%s", file, rVol, rRel, appVol, appRel)
				}
				var kind string
				for _, v := range p.Spec.Volumes {
					if v.Name == appVol && v.EmptyDir != nil {
						kind = "emptyDir"
					}
				}
				return kind, appRel, follow, rRO
			}
			gk, grel, gfollow, gro := wiring(got, gotRelay)
			wk, wrel, wfollow, wro := wiring(want, wantRelay)
			if gk != wk || grel != wrel || gro != wro || gk != "emptyDir" || !gro {
				t.Errorf("wiring: got %s %s ro=%v, seed %s %s ro=%v", gk, grel, gro, wk, wrel, wro)
			}
			if wfollow != "-f" || gfollow != "-F" {
				t.Errorf("follow: got %s (want -F, rotation), seed %s", gfollow, wfollow)
			}
			if len(got.Spec.Volumes) != len(want.Spec.Volumes) {
				t.Errorf("volumes: %v, seed %v", got.Spec.Volumes, want.Spec.Volumes)
			}
			if v := got.Spec.Volumes[0]; v.EmptyDir.SizeLimit == nil {
				t.Errorf("no sizeLimit on the emptyDir")
			}

			// Secure defaults added (docs/contract.md#secure-defaults).
			sc := gotRelay.SecurityContext
			if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
				fmt.Sprint(sc.Capabilities.Drop) != "[ALL]" || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("secure defaults missing: %+v", sc)
			}
			if gotRelay.Resources.Limits == nil || gotRelay.Resources.Requests == nil {
				t.Errorf("no resources")
			}
			if !strings.Contains(gotRelay.Image, ":") || strings.HasSuffix(gotRelay.Image, ":latest") {
				t.Errorf("image %q not pinned", gotRelay.Image)
			}
		})
	}
}

// Example: the seed's web Deployment with the tail engine.
func Example() {
	input, _ := os.ReadFile("testdata/seed-tail/input.yaml")
	cfg, _ := transform.LoadConfig("config.yaml", []byte(`
apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: demo}
spec:
  nativeSidecars: "false"
  rules:
    - select: {names: [web]}
      logs: {files: [/logs/app.log], engine: tail}
`), []transform.Pattern{logs.Pattern{}})
	e := &transform.Engine{Patterns: []transform.Pattern{logs.Pattern{}}, Config: cfg, Version: "example"}
	out, _, err := e.Process("web.yaml", input)
	if err != nil {
		fmt.Println(err)
		return
	}
	i := bytes.Index(out, []byte("        - name: logs-adapter"))
	j := bytes.Index(out[i:], []byte("          resources:"))
	fmt.Print(string(out[i : i+j]))
	// Output:
	//         - name: logs-adapter
	//           image: busybox:1.37.0
	//           command:
	//             - tail
	//             - -n
	//             - "+1"
	//             - -q
	//             - -F
	//             - /logs/app.log
}
