// Package logsim runs a logs adapter of a generated manifest under the real
// Fluent Bit the way its container runs: its mounts at their paths (the
// app's log volume — the same host directory the app container writes —
// the ConfigMap's files, the offset database's emptyDir, the binary at the
// image's /fluent-bit/bin/fluent-bit), in a mount namespace of its own whose
// root is read-only, as its runAsUser/runAsGroup without supplementary
// groups, with its env (downward-API values filled in). Needs root.
package logsim

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// BinPath is where the image keeps the binary (the adapter's command).
const BinPath = "/fluent-bit/bin/fluent-bit"

// FluentBit is the binary to run (env.FluentBit: $FLUENT_BIT_BIN, else
// shared/tools/fluent-bit-5.1.1 beside the checkout; a Fluent Bit 5.1).
func FluentBit() (string, error) { return env.FluentBit() }

// Pod is a pod template with a fluent-bit adapter.
type Pod struct {
	Workload   string // Kind/name
	Template   map[string]any
	Adapter    manifest.Container
	ConfigMaps map[string]map[string]any // name → data, of the manifest
	Config     string                    // the adapter's config file
	Doc        map[string]any            // Config, parsed
	configCM   string                    // the ConfigMap holding it
	configKey  string
}

// Find returns the fluent-bit adapters (containers running BinPath) of a
// manifest stream, each with its config from a mounted ConfigMap.
func Find(data []byte) ([]*Pod, error) {
	objs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	cms := map[string]map[string]any{}
	for _, o := range objs {
		if o.Kind() == "ConfigMap" {
			cms[o.Name()] = manifest.Map(o, "data")
		}
	}
	var out []*Pod
	for _, o := range objs {
		tmpl := o.PodTemplate()
		if tmpl == nil {
			continue
		}
		for _, c := range manifest.Containers(tmpl) {
			p := &Pod{Workload: o.Kind() + "/" + o.Name(), Template: tmpl, Adapter: c, ConfigMaps: cms}
			argv := p.Argv()
			if len(argv) == 0 || argv[0] != BinPath {
				continue
			}
			cfgPath := ""
			for i := 1; i+1 < len(argv); i++ {
				if argv[i] == "-c" {
					cfgPath = argv[i+1]
				}
			}
			for _, vm := range manifest.Slice(c.M, "volumeMounts") {
				m, _ := vm.(map[string]any)
				cm := manifest.Str(p.volume(manifest.Str(m, "name")), "configMap", "name")
				if cm != "" && path.Dir(cfgPath) == path.Clean(manifest.Str(m, "mountPath")) {
					p.configCM, p.configKey = cm, path.Base(cfgPath)
				}
			}
			cfg, _ := cms[p.configCM][p.configKey].(string)
			if cfg == "" {
				return nil, fmt.Errorf("%s: the adapter's config %q is not in a mounted ConfigMap", p.Workload, cfgPath)
			}
			if err := p.setConfig(cfg); err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func (p *Pod) setConfig(cfg string) error {
	p.Config, p.Doc = cfg, nil
	if err := yaml.Unmarshal([]byte(cfg), &p.Doc); err != nil {
		return fmt.Errorf("%s: config: %v", p.Workload, err)
	}
	return nil
}

// WithConfig is a copy of the pod whose adapter config is cfg.
func (p *Pod) WithConfig(cfg string) (*Pod, error) {
	q := *p
	q.ConfigMaps = map[string]map[string]any{}
	for name, data := range p.ConfigMaps {
		d := map[string]any{}
		for k, v := range data {
			d[k] = v
		}
		q.ConfigMaps[name] = d
	}
	q.ConfigMaps[p.configCM][p.configKey] = cfg
	return &q, q.setConfig(cfg)
}

// Argv is the adapter's command and args.
func (p *Pod) Argv() []string {
	return append(manifest.Strings(p.Adapter.M, "command"), manifest.Strings(p.Adapter.M, "args")...)
}

// Input is the config's (first) tail input.
func (p *Pod) Input() map[string]any {
	in, _ := manifest.Slice(p.Doc, "pipeline", "inputs")[0].(map[string]any)
	return in
}

func (p *Pod) volume(name string) map[string]any {
	for _, v := range manifest.Slice(p.Template, "spec", "volumes") {
		if m, _ := v.(map[string]any); manifest.Str(m, "name") == name {
			return m
		}
	}
	return nil // a volumeClaimTemplate's: a directory of its own here
}

// Mount is one of a container's mounts, on the host.
type Mount struct {
	Host, At string
	RO       bool
}

// Mode is "ro" or "rw".
func (m Mount) Mode() string {
	if m.RO {
		return "ro"
	}
	return "rw"
}

// FieldValues stand in for the downward API (metadata.name is a pod name
// of the workload).
var FieldValues = map[string]string{
	"metadata.namespace": "shop", "metadata.uid": "0b6e4c1a-5f7e-4c3e-9d51-2a1f1c3e9b10",
	"spec.nodeName": "node-1", "spec.serviceAccountName": "default", "status.podIP": "10.244.1.7", "status.hostIP": "192.168.0.11",
}

// Sandbox is the adapter container laid out on the host.
type Sandbox struct {
	Pod      *Pod
	Root     string  // the pod's volumes; Root/root is the container's root
	Mounts   []Mount // the adapter's, parents first
	UID, GID int
	Env      []string
}

// NewSandbox lays out the pod's volumes under root (an empty directory
// other users can traverse) for the adapter, bin mounted at BinPath.
func NewSandbox(root, bin string, p *Pod) (*Sandbox, error) {
	s := &Sandbox{Pod: p, Root: root}
	if err := os.Chmod(root, 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(root, "root"), 0o755); err != nil {
		return nil, err
	}
	mounts, err := s.layout(p.Adapter)
	if err != nil {
		return nil, err
	}
	s.Mounts = append(mounts, Mount{Host: bin, At: BinPath, RO: true})
	sort.SliceStable(s.Mounts, func(i, j int) bool { return len(s.Mounts[i].At) < len(s.Mounts[j].At) })
	a, tmpl := p.Adapter.M, p.Template
	s.UID, s.GID = manifest.Int(a, "securityContext", "runAsUser"), manifest.Int(a, "securityContext", "runAsGroup")
	if s.UID == 0 {
		s.UID, s.GID = manifest.Int(tmpl, "spec", "securityContext", "runAsUser"), manifest.Int(tmpl, "spec", "securityContext", "runAsGroup")
	}
	if s.UID <= 0 || s.GID <= 0 {
		return nil, fmt.Errorf("%s: the adapter declares no non-root runAsUser/runAsGroup", p.Workload)
	}
	for _, e := range manifest.Slice(a, "env") {
		m, _ := e.(map[string]any)
		v := manifest.Str(m, "value")
		if fp := manifest.Str(m, "valueFrom", "fieldRef", "fieldPath"); fp != "" {
			var ok bool
			if v, ok = FieldValues[fp]; !ok {
				v = "value of " + fp
			}
			if fp == "metadata.name" { // a pod of the workload
				v = path.Base(p.Workload) + "-7d9f5c-x2k4q"
			}
		}
		s.Env = append(s.Env, manifest.Str(m, "name")+"="+v)
	}
	return s, nil
}

// layout creates the volumes a container mounts under Root/volumes (a
// ConfigMap's holds its files; others are 0777, as an emptyDir) and
// subPaths in them, as the kubelet does, and returns its mounts.
func (s *Sandbox) layout(c manifest.Container) ([]Mount, error) {
	var out []Mount
	for _, vm := range manifest.Slice(c.M, "volumeMounts") {
		m, _ := vm.(map[string]any)
		name := manifest.Str(m, "name")
		dir := filepath.Join(s.Root, "volumes", name)
		if _, err := os.Stat(dir); err != nil {
			if err := s.makeVolume(name, dir); err != nil {
				return nil, err
			}
		}
		if sp := manifest.Str(m, "subPath"); sp != "" {
			dir = filepath.Join(dir, sp)
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return nil, err
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				return nil, err
			}
		}
		out = append(out, Mount{Host: dir, At: path.Clean(manifest.Str(m, "mountPath")), RO: m["readOnly"] == true})
	}
	return out, nil
}

func (s *Sandbox) makeVolume(name, dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	cm := manifest.Str(s.Pod.volume(name), "configMap", "name")
	if cm == "" {
		return os.Chmod(dir, 0o777)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for k, v := range s.Pod.ConfigMaps[cm] {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(fmt.Sprint(v)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// hostPath maps a container path to the host through its mounts.
func hostPath(mounts []Mount, p string) (string, bool) {
	best := -1
	for i, m := range mounts {
		if (p == m.At || strings.HasPrefix(p, m.At+"/")) && (best < 0 || len(m.At) > len(mounts[best].At)) {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return filepath.Join(mounts[best].Host, strings.TrimPrefix(p, mounts[best].At)), true
}

// AppFile is where on the host an app container writes the file at (a
// path in the containers); the adapter must see that same host file at
// the same path. Its directory is created.
func (s *Sandbox) AppFile(at string) (string, error) {
	for _, c := range manifest.Containers(s.Pod.Template) {
		if c.Name() == s.Pod.Adapter.Name() {
			continue
		}
		ms, err := s.layout(c)
		if err != nil {
			return "", err
		}
		host, ok := hostPath(ms, at)
		if !ok {
			continue
		}
		if h, ok := hostPath(s.Mounts, at); !ok || h != host {
			return "", fmt.Errorf("the adapter does not see %s where container %s writes it (%s, %s)", at, c.Name(), h, host)
		}
		return host, os.MkdirAll(filepath.Dir(host), 0o777)
	}
	return "", fmt.Errorf("no app container writes %s on a volume", at)
}

// script runs argv in a mount namespace of its own, chrooted into an empty
// read-only tmpfs that holds the host's /usr and /etc (read-only), /dev and
// /proc, and the container's mounts (host path, path, ro|rw triples), as
// uid:gid without supplementary groups.
const script = `set -eu
root=$1 uid=$2 gid=$3 n=$4; shift 4
mount -t tmpfs -o mode=0755,size=8m sidecarize-adapter-root "$root"
for d in usr etc; do
  mkdir "$root/$d"; mount --bind "/$d" "$root/$d"; mount -o remount,bind,ro "$root/$d"
done
for d in dev proc; do mkdir "$root/$d"; mount --rbind "/$d" "$root/$d"; done
for d in bin sbin lib lib64; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"
  elif [ -d "/$d" ]; then mkdir "$root/$d"; mount --bind "/$d" "$root/$d"; mount -o remount,bind,ro "$root/$d"
  fi
done
while [ "$n" -gt 0 ]; do
  host=$1 at=$2 mode=$3; shift 3; n=$((n-1))
  if [ -d "$host" ]; then mkdir -p "$root$at"; else mkdir -p "$(dirname "$root$at")"; : >"$root$at"; fi
  mount --bind "$host" "$root$at"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$root$at"; fi
done
mount -o remount,ro "$root"
exec chroot "$root" /usr/bin/setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
`

// Command runs argv in the container's view (the adapter's own command is
// Pod.Argv()). The process is the command itself once the sandbox is set
// up, so a signal to it reaches it.
func (s *Sandbox) Command(argv ...string) *exec.Cmd {
	args := []string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sandbox",
		filepath.Join(s.Root, "root"), fmt.Sprint(s.UID), fmt.Sprint(s.GID), fmt.Sprint(len(s.Mounts))}
	for _, m := range s.Mounts {
		args = append(args, m.Host, m.At, m.Mode())
	}
	cmd := exec.Command("unshare", append(args, argv...)...)
	cmd.Env = s.Env
	cmd.Dir = "/"
	return cmd
}

// Probe checks the sandbox itself: the user without supplementary groups,
// a read-only root, only the mounts not marked readOnly writable.
func (s *Sandbox) Probe() error {
	argv := []string{"/usr/bin/sh", "-c", `id -u; id -g; id -G; for p in "$@"; do if touch "$p/.probe" 2>/dev/null; then echo "$p:rw"; rm -f "$p/.probe"; else echo "$p:ro"; fi; done`, "probe", "/", "/tmp"}
	want := []string{fmt.Sprint(s.UID), fmt.Sprint(s.GID), fmt.Sprint(s.GID), "/:ro", "/tmp:ro"}
	for _, m := range s.Mounts {
		if st, err := os.Stat(m.Host); err == nil && st.IsDir() {
			argv = append(argv, m.At)
			want = append(want, m.At+":"+m.Mode())
		}
	}
	out, err := s.Command(argv...).CombinedOutput()
	if got := strings.Fields(string(out)); err != nil || !reflect.DeepEqual(got, want) {
		return fmt.Errorf("the sandbox is not the container's view (%v): got\n%s\nwant\n%s", err, out, strings.Join(want, "\n"))
	}
	return nil
}
