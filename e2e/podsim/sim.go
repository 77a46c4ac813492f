package podsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// Options of a simulation.
type Options struct {
	HAProxy string // haproxy binary; default: "haproxy" on PATH
	TempDir string // parent of the simulated root; default os.TempDir()
}

// Proc is one simulated HAProxy container.
type Proc struct {
	Container string
	Argv      []string // as run (paths rewritten under Root)
	Root      string   // the container's simulated filesystem root
	UID, GID  int
	cmd       *exec.Cmd
	out       *SyncBuffer
	exited    chan struct{}
}

// Output is what the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Sim is a running pod.
type Sim struct {
	Pod   *Pod
	NS    *NetNS
	Root  string
	Apps  []*App
	Procs []*Proc
	// Upstreams stand in for the services outside the pod that outbound
	// proxies (ambassadors) forward to: expanded host name -> stand-in.
	Upstreams map[string]*App
	dns       *clusterDNS
	resolv    string
	caDir     string
	relays    []net.Listener
}

// Start brings the pod up: namespace, app stand-ins on every port of the
// containers sidecarize did not add, then each HAProxy container's command
// (checked with `haproxy -c` first). It returns when every port of every
// HAProxy container accepts connections, or an error naming the container
// and what HAProxy said.
func Start(ctx context.Context, pod *Pod, opt Options) (_ *Sim, err error) {
	if opt.HAProxy == "" {
		if opt.HAProxy, err = exec.LookPath("haproxy"); err != nil {
			return nil, fmt.Errorf("podsim: %w", err)
		}
	}
	root, err := os.MkdirTemp(opt.TempDir, "podsim-")
	if err != nil {
		return nil, err
	}
	// The containers may run as non-root users: let them traverse the root.
	if err := os.Chmod(root, 0o755); err != nil {
		return nil, err
	}
	s := &Sim{Pod: pod, Root: root}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.NS, err = NewNetNS(); err != nil {
		return nil, err
	}
	for _, cp := range pod.AppPorts() {
		a, err := startApp(s.NS, cp.Container, "127.0.0.1", cp.Port, nil)
		if err != nil {
			return nil, err
		}
		s.Apps = append(s.Apps, a)
	}
	// Injected proxies the simulator cannot run (not HAProxy, e.g. Envoy) are
	// stood in for by a TCP relay to the next hop of their retarget, so that
	// a chain through them (TLS -> Envoy -> app) still carries traffic.
	haproxy := map[string]bool{}
	for _, c := range pod.HAProxyContainers() {
		haproxy[c.Name()] = true
	}
	retargets := pod.Retargets()
	for _, cp := range pod.Ports() {
		next, ok := retargets[cp.Port]
		if !cp.Injected || haproxy[cp.Container] || !ok {
			continue
		}
		r, err := startRelay(s.NS, cp.Port, next)
		if err != nil {
			return nil, fmt.Errorf("relay for %s port %d: %w", cp.Container, cp.Port, err)
		}
		s.relays = append(s.relays, r)
	}
	var procs []*Proc
	for _, c := range pod.HAProxyContainers() {
		p, err := s.prepare(c, opt.HAProxy)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.Name(), err)
		}
		procs = append(procs, p)
	}
	// Cluster DNS and the upstreams outside the pod, on 127.0.1.x.
	s.resolv = filepath.Join(root, "resolv.conf")
	if err := os.WriteFile(s.resolv, []byte("nameserver "+strings.Split(dnsAddr, ":")[0]+"\noptions ndots:1\n"), 0o644); err != nil {
		return nil, err
	}
	ca, err := newSimCA()
	if err != nil {
		return nil, err
	}
	s.caDir = filepath.Join(root, "ca-certs")
	if err := os.MkdirAll(s.caDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.caDir, "podsim-ca.pem"), ca.PEM, 0o644); err != nil {
		return nil, err
	}
	s.Upstreams = map[string]*App{}
	hosts := map[string]net.IP{}
	for _, p := range procs {
		cfg, err := s.Config(p)
		if err != nil {
			return nil, err
		}
		for _, sv := range cfg.Servers {
			if sv.Loopback() {
				continue
			}
			host := strings.ToLower(expandEnv(sv.Host, containerEnv(pod, p.Container)))
			if _, ok := s.Upstreams[host]; ok || net.ParseIP(host) != nil {
				continue
			}
			ip := net.IPv4(127, 0, 1, byte(len(hosts)+1))
			hosts[host] = ip
			var tlsConf *tls.Config
			if sv.SSL {
				if tlsConf, err = ca.serverConfig(host); err != nil {
					return nil, err
				}
			}
			a, err := startApp(s.NS, "upstream/"+host, ip.String(), sv.Port, tlsConf)
			if err != nil {
				return nil, err
			}
			s.Upstreams[host] = a
		}
	}
	if s.dns, err = startDNS(s.NS, hosts); err != nil {
		return nil, err
	}
	for _, p := range procs {
		out, err := s.run(ctx, p, "-c")
		if err != nil {
			return nil, fmt.Errorf("container %s: haproxy -c rejects the config: %v\n%s", p.Container, err, out)
		}
		// As in the pod (its user, its DNS), a generated config loads
		// without a warning.
		if w := warnings(out); len(w) > 0 {
			return nil, fmt.Errorf("container %s: haproxy -c warns:\n%s", p.Container, strings.Join(w, "\n"))
		}
		cfg, err := s.Config(p)
		if err != nil {
			return nil, err
		}
		for _, cp := range pod.Ports() {
			if cp.Container == p.Container && cp.Protocol == "TCP" && cfg.FrontendFor(cp.Port) == nil {
				return nil, fmt.Errorf("container %s port %s/%d: declared container port has no HAProxy frontend bound to it", p.Container, cp.Name, cp.Port)
			}
		}
		if err := s.startProc(p); err != nil {
			return nil, fmt.Errorf("container %s: %w", p.Container, err)
		}
		s.Procs = append(s.Procs, p)
	}
	// Wait for every HAProxy container port.
	for _, p := range s.Procs {
		for _, cp := range pod.Ports() {
			if cp.Container != p.Container || cp.Protocol != "TCP" {
				continue
			}
			if err := s.waitPort(ctx, p, cp.Port); err != nil {
				return nil, fmt.Errorf("container %s port %s/%d: %w\n%s", p.Container, cp.Name, cp.Port, err, p.Output())
			}
		}
	}
	return s, nil
}

func (s *Sim) waitPort(ctx context.Context, p *Proc, port int) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("haproxy exited: %v", p.cmd.ProcessState)
		default:
		}
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := s.NS.DialContext(dctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not listening: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// defaultHAProxyCmd is what the official haproxy image runs with no command:
// its entrypoint turns `haproxy ...` into `haproxy -W -db ...`.
var defaultHAProxyCmd = []string{"haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"}

// prepare writes the container's mounted files under its own root and
// rewrites its command's absolute paths that fall under a mount.
func (s *Sim) prepare(c manifest.Container, haproxyBin string) (*Proc, error) {
	root := filepath.Join(s.Root, c.Name())
	files, dirs, err := s.Pod.mountFiles(c)
	if err != nil {
		return nil, err
	}
	uid, gid := runAs(s.Pod.Template, c)
	mkdir := func(d string) error {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		return os.Chown(d, uid, gid)
	}
	if err := mkdir(root); err != nil {
		return nil, err
	}
	mounts := append([]string(nil), dirs...)
	for _, d := range dirs {
		if err := mkdir(filepath.Join(root, d)); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		dst := filepath.Join(root, f.rel)
		if err := mkdir(filepath.Dir(dst)); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, f.data, os.FileMode(f.mode)); err != nil {
			return nil, err
		}
		mounts = append(mounts, f.rel)
	}
	cmd := stringList(c.M["command"])
	args := stringList(c.M["args"])
	var argv []string
	switch {
	case len(cmd) > 0:
		argv = append(cmd, args...)
	case len(args) > 0:
		argv = args
		if argv[0] == "haproxy" || strings.HasPrefix(argv[0], "-") {
			if argv[0] != "haproxy" {
				argv = append([]string{"haproxy"}, argv...)
			}
			argv = append([]string{"haproxy", "-W", "-db"}, argv[1:]...)
		}
	default:
		argv = append([]string(nil), defaultHAProxyCmd...)
	}
	if filepath.Base(argv[0]) != "haproxy" {
		return nil, fmt.Errorf("command %q does not run haproxy", argv)
	}
	argv[0] = haproxyBin
	for i := 1; i < len(argv); i++ {
		argv[i] = rewritePath(argv[i], root, mounts)
	}
	return &Proc{Container: c.Name(), Argv: argv, Root: root, UID: uid, GID: gid}, nil
}

// rewritePath maps an argument that is (or ends in, after "=") an absolute
// path under one of the mounts into the simulated root.
func rewritePath(arg, root string, mounts []string) string {
	prefix, p := "", arg
	if i := strings.Index(arg, "="); i >= 0 && strings.HasPrefix(arg[i+1:], "/") {
		prefix, p = arg[:i+1], arg[i+1:]
	}
	if !strings.HasPrefix(p, "/") {
		return arg
	}
	for _, m := range mounts {
		m = strings.TrimSuffix(m, "/")
		if p == m || strings.HasPrefix(p, m+"/") {
			return prefix + filepath.Join(root, p)
		}
	}
	return arg
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// runAs is the uid/gid the container runs as: its securityContext, then the
// pod's; runAsNonRoot without a uid takes the haproxy image's user (99).
func runAs(tmpl map[string]any, c manifest.Container) (int, int) {
	uid, gid := -1, -1
	nonRoot := false
	for _, sc := range []map[string]any{manifest.Map(tmpl, "spec", "securityContext"), manifest.Map(c.M, "securityContext")} {
		if sc == nil {
			continue
		}
		if n, ok := toInt(sc["runAsUser"]); ok {
			uid = n
		}
		if n, ok := toInt(sc["runAsGroup"]); ok {
			gid = n
		}
		if b, ok := sc["runAsNonRoot"].(bool); ok {
			nonRoot = b
		}
	}
	if uid < 0 {
		uid = 0
		if nonRoot {
			uid = 99
		}
	}
	if gid < 0 {
		gid = uid
	}
	return uid, gid
}

// command is the container's process: in a mount namespace of its own whose
// /etc/resolv.conf points at the simulated cluster DNS and whose
// /etc/ssl/certs holds the simulated CA (util-linux unshare), as the
// container's user (setpriv).
func (s *Sim) command(p *Proc, extra ...string) *exec.Cmd {
	const script = `mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/ssl/certs && u=$2 g=$3 && shift 3 && exec setpriv --reuid="$u" --regid="$g" --clear-groups -- "$@"`
	args := []string{"-m", "--propagation", "private", "sh", "-c", script, s.resolv, s.caDir, strconv.Itoa(p.UID), strconv.Itoa(p.GID)}
	args = append(append(args, p.Argv...), extra...)
	cmd := exec.Command("unshare", args...)
	cmd.Dir = p.Root
	for _, c := range s.Pod.Containers {
		if wd := manifest.Str(c.M, "workingDir"); c.Name() == p.Container && wd != "" {
			cmd.Dir = filepath.Join(p.Root, wd)
		}
	}
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"}
	cmd.Env = append(cmd.Env, containerEnv(s.Pod, p.Container)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// expandEnv expands HAProxy's ${VAR} and ${VAR-default} with env (NAME=value).
func expandEnv(v string, env []string) string {
	vals := map[string]string{}
	for _, e := range env {
		k, val, _ := strings.Cut(e, "=")
		vals[k] = val
	}
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			return v
		}
		j := strings.Index(v[i:], "}")
		if j < 0 {
			return v
		}
		expr := v[i+2 : i+j]
		name, def, hasDef := strings.Cut(expr, "-")
		val, ok := vals[name]
		if !ok && hasDef {
			val = def
		}
		v = v[:i] + val + v[i+j+1:]
	}
}

// containerEnv turns the container's literal env values (and the downward
// API's pod name/namespace) into the process environment.
func containerEnv(pod *Pod, name string) []string {
	var out []string
	for _, c := range pod.Containers {
		if c.Name() != name {
			continue
		}
		for _, e := range manifest.Slice(c.M, "env") {
			m, _ := e.(map[string]any)
			n := manifest.Str(m, "name")
			if v, ok := m["value"]; ok {
				out = append(out, n+"="+fmt.Sprint(v))
				continue
			}
			switch manifest.Str(m, "valueFrom", "fieldRef", "fieldPath") {
			case "metadata.name":
				out = append(out, n+"=podsim-0")
			case "metadata.namespace":
				out = append(out, n+"="+pod.Namespace)
			case "status.podIP":
				out = append(out, n+"=127.0.0.1")
			}
		}
	}
	return out
}

// run runs the container's command with extra args to completion (in the
// namespace, as the container's user).
func (s *Sim) run(ctx context.Context, p *Proc, extra ...string) (string, error) {
	var out SyncBuffer
	cmd := s.command(p, extra...)
	cmd.Stdout, cmd.Stderr = &out, &out
	done, err := s.NS.Start(cmd)
	if err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return out.String(), ctx.Err()
	case <-time.After(30 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return out.String(), errors.New("timeout")
	}
	if !cmd.ProcessState.Success() {
		return out.String(), errors.New(cmd.ProcessState.String())
	}
	return out.String(), nil
}

func (s *Sim) startProc(p *Proc) error {
	p.out = &SyncBuffer{}
	p.cmd = s.command(p)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	done, err := s.NS.Start(p.cmd)
	if err != nil {
		return err
	}
	p.exited = make(chan struct{})
	go func() { <-done; close(p.exited) }()
	return nil
}

// Stop ends every process and removes the root.
func (s *Sim) Stop() {
	for _, p := range s.Procs {
		if p.cmd != nil && p.cmd.Process != nil {
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(3 * time.Second):
				syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.exited
			}
		}
	}
	for _, a := range s.Apps {
		a.Close()
	}
	for _, a := range s.Upstreams {
		a.Close()
	}
	if s.dns != nil {
		s.dns.Close()
	}
	for _, r := range s.relays {
		r.Close()
	}
	if s.NS != nil {
		s.NS.Close()
	}
	if s.Root != "" {
		os.RemoveAll(s.Root)
	}
}

// HTTPClient talks HTTP/1.1 from inside the pod's namespace.
func (s *Sim) HTTPClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:       s.NS.DialContext,
			DisableKeepAlives: true,
		},
	}
}

// Dial connects from inside the namespace.
func (s *Sim) Dial(ctx context.Context, port int) (net.Conn, error) {
	return s.NS.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
}

// SyncBuffer is a bytes.Buffer safe for a process's stdout and stderr
// written from several goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startRelay forwards 127.0.0.1:from to 127.0.0.1:to inside the namespace.
func startRelay(ns *NetNS, from, to int) (net.Listener, error) {
	return Relay(ns, "127.0.0.1:"+strconv.Itoa(from), ns, "127.0.0.1:"+strconv.Itoa(to))
}

// Relay listens on addr in namespace from and forwards each connection to
// toAddr in namespace to: a Service with one endpoint, or a pod's address
// as another pod (or Prometheus) reaches it. Close the listener to stop it.
func Relay(from *NetNS, addr string, to *NetNS, toAddr string) (net.Listener, error) {
	ln, err := from.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				u, err := to.DialContext(ctx, "tcp", toAddr)
				cancel()
				if err != nil {
					return
				}
				defer u.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
				<-done
				<-done
			}()
		}
	}()
	return ln, nil
}

// warnings are HAProxy's [WARNING] lines in out.
func warnings(out string) []string {
	var w []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "[WARNING]") {
			w = append(w, l)
		}
	}
	return w
}
