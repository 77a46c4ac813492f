package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

// exporterCase is the exporter golden whose output runs against a real
// PostgreSQL: seed 2's products-db with `exporter: {type: postgres,
// secretRef: {name: products-db-password}}`.
const exporterCase = "patterns/exporter/testdata/seed-products-db/expected.yaml"

// TestExporterPostgres runs Debian's PostgreSQL and postgres_exporter
// v0.20.1, the version the preset's image pins, in a network namespace of
// their own (a pod's
// loopback), the exporter with exactly the generated container's args and
// env, the Secret's value supplied the way the kubelet resolves
// secretKeyRef, as the container's user. The exporter must report pg_up 1;
// with a wrong password in the Secret it reports pg_up 0 (so the password
// really comes from the Secret and is checked).
func TestExporterPostgres(t *testing.T) {
	pgBin := expPostgresBinDir(t)
	exporterBin := expPinned(t, "POSTGRES_EXPORTER_BIN", "postgres_exporter", "0.20.1")
	ctr, tmpl, dbPort := expExporterContainer(t, exporterCase, "Deployment", "products-db")

	ns, err := podsim.NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	const password = "widgetario-e2e-Secret"
	expStartPostgres(t, ns, pgBin, dbPort, password)
	for _, tc := range []struct {
		secret string
		want   string
	}{{password, "pg_up 1"}, {"wrong-password", "pg_up 0"}} {
		secrets := map[string]map[string]string{"products-db-password": {"password": tc.secret}}
		metrics := expRunContainer(t, ns, exporterBin, tmpl, ctr, secrets, "pg_up")
		if !expHasLine(metrics, tc.want) {
			t.Errorf("Secret password %q: the exporter does not report %q:\n%s", tc.secret, tc.want, expGrep(metrics, "pg_up"))
		} else {
			t.Logf("Secret password %q: %s", tc.secret, tc.want)
		}
	}
	// The golden scrapes through prometheus.io annotations (job
	// kubernetes-pods, as the usual annotation-driven config calls it).
	expPrometheus(t, exporterCase, "products-db", ns, exporterBin, tmpl, ctr,
		map[string]map[string]string{"products-db-password": {"password": password}}, `pg_up{job="kubernetes-pods"}`, 1, "")
}

// expTool is a Debian package's binary, or a failure naming the installer.
func expTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run scripts/deps.sh all", name)
	}
	return p
}

// expPinned is an exporter built at the version its preset's image pins
// (env.Exporter: $envVar, else shared/tools/exporters/<file>).
func expPinned(t *testing.T, envVar, file, version string) string {
	t.Helper()
	p, err := env.Exporter(envVar, file, version)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// expExporterContainer returns the exporter container of a workload in a
// golden output, its pod template and the app container's port.
func expExporterContainer(t *testing.T, file, kind, name string) (manifest.Container, map[string]any, int) {
	t.Helper()
	_, objs := expGolden(t, file)
	return expExporterContainerIn(t, objs, file, kind, name)
}

// expGolden reads a golden output (a path from the repository root) and
// parses it.
func expGolden(t *testing.T, file string) ([]byte, []manifest.Object) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.RepoRoot(), file))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return data, objs
}

// expExporterContainerIn is expExporterContainer on parsed objects (from).
func expExporterContainerIn(t *testing.T, objs []manifest.Object, file, kind, name string) (manifest.Container, map[string]any, int) {
	t.Helper()
	for _, o := range objs {
		if o.Kind() != kind || o.Name() != name {
			continue
		}
		tmpl := o.PodTemplate()
		var ctr manifest.Container
		appPort := 0
		for _, c := range manifest.Containers(tmpl) {
			if c.Name() == "exporter" {
				ctr = c
				continue
			}
			for _, p := range manifest.Slice(c.M, "ports") {
				appPort, _ = strconv.Atoi(fmt.Sprint(manifest.Get(p.(map[string]any), "containerPort")))
			}
		}
		if ctr.M == nil || appPort == 0 {
			t.Fatalf("%s: %s/%s has no exporter container or no app port", file, kind, name)
		}
		return ctr, tmpl, appPort
	}
	t.Fatalf("%s: no %s/%s", file, kind, name)
	return manifest.Container{}, nil, 0
}

// expRunContainer runs the exporter binary the way the container runs: its
// args, its env (secretKeyRef resolved from secrets as the kubelet would),
// its user, in the pod's namespace; it returns the metrics once up reports.
func expRunContainer(t *testing.T, ns *podsim.NetNS, bin string, tmpl map[string]any, ctr manifest.Container, secrets map[string]map[string]string, up string) string {
	t.Helper()
	port, stop := expStartContainer(t, ns, bin, tmpl, ctr, secrets)
	defer stop()
	return expScrapeUp(t, ns, port, up)
}

// expStartContainer starts the exporter as the container runs (see
// expRunContainer) and returns its metrics port once it listens, and a
// function that stops it (also called at the test's end).
func expStartContainer(t *testing.T, ns *podsim.NetNS, bin string, tmpl map[string]any, ctr manifest.Container, secrets map[string]map[string]string) (int, func()) {
	t.Helper()
	environ, err := expContainerEnviron(ctr, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if cmd := manifest.Slice(ctr.M, "command"); len(cmd) > 0 {
		t.Fatalf("the exporter container sets a command %v: the image's entrypoint would not run", cmd)
	}
	port := 0
	for _, p := range manifest.Slice(ctr.M, "ports") {
		port, _ = strconv.Atoi(fmt.Sprint(manifest.Get(p.(map[string]any), "containerPort")))
	}
	uid, gid := expContainerUser(t, tmpl, ctr)
	args := expStrings(manifest.Slice(ctr.M, "args"))
	for i, a := range args {
		args[i] = expExpand(a, environ)
	}
	return port, expStartExporter(t, ns, bin, args, environ, uid, gid, port)
}

// expExpand expands $(VAR) in a container arg from its env, as the kubelet
// does: $$ is a literal $, an unknown $(VAR) stays as written.
func expExpand(arg string, environ []string) string {
	vars := map[string]string{}
	for _, e := range environ {
		k, v, _ := strings.Cut(e, "=")
		vars[k] = v
	}
	var b strings.Builder
	for i := 0; i < len(arg); i++ {
		switch {
		case strings.HasPrefix(arg[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(arg[i:], "$("):
			if end := strings.IndexByte(arg[i:], ')'); end > 0 {
				if v, ok := vars[arg[i+2:i+end]]; ok {
					b.WriteString(v)
					i += end
					continue
				}
			}
			b.WriteByte('$')
		default:
			b.WriteByte(arg[i])
		}
	}
	return b.String()
}

// expPostgresBinDir is Debian's newest /usr/lib/postgresql/<version>/bin.
func expPostgresBinDir(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		t.Fatalf("PostgreSQL is not installed: run scripts/deps.sh all (apt-get install postgresql)")
	}
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(dirs[j]))))
		return vi < vj
	})
	return filepath.Dir(dirs[len(dirs)-1])
}

// expStartPostgres initialises a cluster in a temp dir, as Debian's postgres
// user (PostgreSQL refuses to run as root), with password authentication on
// TCP, and runs it on 127.0.0.1:port inside the namespace.
func expStartPostgres(t *testing.T, ns *podsim.NetNS, bin string, port int, password string) *expPostgres {
	t.Helper()
	uid, gid := expLookupUser(t, "postgres")
	dir, err := os.MkdirTemp("", "sidecarize-e2e-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(pwfile, uid, gid); err != nil {
		t.Fatal(err)
	}
	asPostgres := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Setpgid: true}
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
		cmd.Dir = dir
		return cmd
	}
	data := filepath.Join(dir, "data")
	out, err := asPostgres(exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--pwfile="+pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")).CombinedOutput()
	if err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg := &expPostgres{ns: ns, port: port, cmd: func() *exec.Cmd {
		return asPostgres(exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir, "-c", "fsync=off"))
	}}
	t.Cleanup(func() {
		pg.Stop(t)
		if t.Failed() {
			t.Logf("postgres output:\n%s", pg.logs.String())
		}
	})
	pg.Start(t)
	return pg
}

// expPostgres is a PostgreSQL server that can be stopped and started again
// on its data directory.
type expPostgres struct {
	ns   *podsim.NetNS
	port int
	cmd  func() *exec.Cmd
	logs podsim.SyncBuffer
	run  *exec.Cmd
	done <-chan struct{}
}

// Start runs the server and waits until it listens.
func (pg *expPostgres) Start(t *testing.T) {
	t.Helper()
	pg.run = pg.cmd()
	pg.run.Stdout, pg.run.Stderr = &pg.logs, &pg.logs
	done, err := pg.ns.Start(pg.run)
	if err != nil {
		t.Fatal(err)
	}
	pg.done = done
	expWaitListening(t, pg.ns, pg.port, done, &pg.logs)
}

// Stop shuts the server down (fast shutdown, then SIGKILL after 10s).
func (pg *expPostgres) Stop(t *testing.T) {
	if pg.run == nil {
		return
	}
	syscall.Kill(-pg.run.Process.Pid, syscall.SIGINT)
	select {
	case <-pg.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pg.run.Process.Pid, syscall.SIGKILL)
		<-pg.done
	}
	pg.run = nil
}

// expRunExporter runs the exporter in the namespace until its metrics show
// the connection result (up, e.g. pg_up), and returns the last scrape.
func expRunExporter(t *testing.T, ns *podsim.NetNS, bin string, args, environ []string, uid, gid, port int, up string) string {
	t.Helper()
	stop := expStartExporter(t, ns, bin, args, environ, uid, gid, port)
	defer stop()
	return expScrapeUp(t, ns, port, up)
}

// expStartExporter starts the exporter in the namespace and returns once
// it listens on port, with a function that stops it (also called at the
// test's end).
func expStartExporter(t *testing.T, ns *podsim.NetNS, bin string, args, environ []string, uid, gid, port int) func() {
	t.Helper()
	var logs podsim.SyncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, environ...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, Setpgid: true}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	done, err := ns.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		})
	}
	t.Cleanup(stop)
	expWaitListening(t, ns, port, done, &logs)
	return stop
}

// expScrapeUp scrapes the exporter until up (e.g. pg_up) reports, and
// returns the last scrape.
func expScrapeUp(t *testing.T, ns *podsim.NetNS, port int, up string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: ns.DialContext}}
	var body string
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if expHasLine(body, up+" 1") || time.Now().After(deadline) {
				return body
			}
			if expHasLine(body, up+" 0") && time.Now().After(deadline.Add(-10*time.Second)) {
				return body // a settled failure (a few scrapes in)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("scrape: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// expContainerEnviron resolves a container's env the way the kubelet does for
// literal values and secretKeyRef (other sources are not used by the
// exporter pattern and fail the test).
func expContainerEnviron(c manifest.Container, secrets map[string]map[string]string) ([]string, error) {
	var out []string
	for _, e := range manifest.Slice(c.M, "env") {
		m, _ := e.(map[string]any)
		name := manifest.Str(m, "name")
		if v, ok := m["value"]; ok {
			out = append(out, name+"="+fmt.Sprint(v))
			continue
		}
		ref := manifest.Map(m, "valueFrom", "secretKeyRef")
		if ref == nil {
			return nil, fmt.Errorf("env %s: unsupported source %v", name, m["valueFrom"])
		}
		v, ok := secrets[manifest.Str(ref, "name")][manifest.Str(ref, "key")]
		if !ok {
			return nil, fmt.Errorf("env %s: Secret %s has no key %s", name, manifest.Str(ref, "name"), manifest.Str(ref, "key"))
		}
		out = append(out, name+"="+v)
	}
	return out, nil
}

// expContainerUser is the container's runAsUser/runAsGroup (then the pod's).
func expContainerUser(t *testing.T, tmpl map[string]any, c manifest.Container) (int, int) {
	t.Helper()
	uid, gid := -1, -1
	for _, sc := range []map[string]any{manifest.Map(tmpl, "spec", "securityContext"), manifest.Map(c.M, "securityContext")} {
		if n, err := strconv.Atoi(fmt.Sprint(sc["runAsUser"])); err == nil {
			uid = n
		}
		if n, err := strconv.Atoi(fmt.Sprint(sc["runAsGroup"])); err == nil {
			gid = n
		}
	}
	if uid <= 0 {
		t.Fatalf("container %s: no non-root runAsUser", c.Name())
	}
	if gid < 0 {
		gid = uid
	}
	return uid, gid
}

func expLookupUser(t *testing.T, name string) (int, int) {
	t.Helper()
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatalf("user %s: %v (installed with the postgresql package)", name, err)
	}
	uid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, err = exec.Command("id", "-g", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return uid, gid
}

func expWaitListening(t *testing.T, ns *podsim.NetNS, port int, done <-chan struct{}, logs *podsim.SyncBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("exited before listening on %d:\n%s", port, logs.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := ns.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		cancel()
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %d: %v\n%s", port, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func expStrings(l []any) []string {
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func expHasLine(body, line string) bool {
	for _, l := range strings.Split(body, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

func expGrep(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
