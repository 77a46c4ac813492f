package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/podsim"
)

// TestExporterRedis: Debian's redis-server with a password and Debian's
// prometheus-redis-exporter run as the generated exporter container
// (patterns/exporter/testdata/redis-secret): redis_up 1 with the Secret's
// password, redis_up 0 with a wrong one.
func TestExporterRedis(t *testing.T) {
	server := expTool(t, "redis-server")
	exporterBin := expTool(t, "prometheus-redis-exporter")
	ctr, tmpl, port := expExporterContainer(t, "patterns/exporter/testdata/redis-secret/expected.yaml", "StatefulSet", "sessions")
	ns, err := podsim.NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	const password = "sessions-e2e-Secret"
	dir := expTempDirFor(t, "redis")
	expStartDaemon(t, ns, "redis", dir, port, server,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--requirepass", password,
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	for _, tc := range []struct{ secret, want string }{{password, "redis_up 1"}, {"wrong-password", "redis_up 0"}} {
		secrets := map[string]map[string]string{"sessions-redis": {"redis-password": tc.secret}}
		metrics := expRunContainer(t, ns, exporterBin, tmpl, ctr, secrets, "redis_up")
		if !expHasLine(metrics, tc.want) {
			t.Errorf("Secret password %q: want %q:\n%s", tc.secret, tc.want, expGrep(metrics, "redis_up"))
		} else {
			t.Logf("Secret password %q: %s", tc.secret, tc.want)
		}
	}
	expPrometheus(t, "patterns/exporter/testdata/redis-secret/expected.yaml", "sessions", ns, exporterBin, tmpl, ctr,
		map[string]map[string]string{"sessions-redis": {"redis-password": password}}, `redis_up{job="web/sessions-exporter"}`, 1, "")
}

// TestExporterNginx: Debian's nginx with stub_status at the configured path
// and nginx-prometheus-exporter 1.5.3 (the preset's pin) run as the
// generated exporter container (patterns/exporter/testdata/nginx):
// nginx_up 1, and the connection gauges come from stub_status.
func TestExporterNginx(t *testing.T) {
	server := expTool(t, "nginx")
	exporterBin := expPinned(t, "NGINX_EXPORTER_BIN", "nginx-prometheus-exporter", "1.5.3")
	ctr, tmpl, port := expExporterContainer(t, "patterns/exporter/testdata/nginx/expected.yaml", "Deployment", "web")
	ns, err := podsim.NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	dir := expTempDirFor(t, "www-data")
	conf := filepath.Join(dir, "nginx.conf")
	// The app's side of the contract: stub_status at the exporter's
	// statusPath (/nginx_status in the golden case).
	cfg := fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log stderr notice;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen 127.0.0.1:%[2]d;
        location = /nginx_status { stub_status; }
        location / { return 200 "ok\n"; }
    }
}
`, dir, port)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	expStartDaemon(t, ns, "www-data", dir, port, server, "-p", dir, "-c", conf, "-g", "daemon off;")
	metrics := expRunContainer(t, ns, exporterBin, tmpl, ctr, nil, "nginx_up")
	if !expHasLine(metrics, "nginx_up 1") {
		t.Errorf("want nginx_up 1:\n%s", expGrep(metrics, "nginx_"))
	}
	if expGrep(metrics, "nginx_connections_active") == "" {
		t.Errorf("no nginx_connections_active from stub_status:\n%s", expGrep(metrics, "nginx_"))
	}
	expPrometheus(t, "patterns/exporter/testdata/nginx/expected.yaml", "web", ns, exporterBin, tmpl, ctr, nil, `nginx_up{job="web"}`, 1, "")
}

// TestExporterMysqldArgs: mysqld_exporter v0.20.0 (the mysql/mariadb
// preset's pin) run as the generated exporter container
// (patterns/exporter/testdata/mysql-podmonitor): its args, with $(VAR)
// expanded from the Secret-backed env as the kubelet does, and its env are
// accepted, and it serves metrics. No MySQL server runs here: mysql_up 0.
func TestExporterMysqldArgs(t *testing.T) {
	exporterBin := expPinned(t, "MYSQLD_EXPORTER_BIN", "mysqld_exporter", "0.20.0")
	ctr, tmpl, _ := expExporterContainer(t, "patterns/exporter/testdata/mysql-podmonitor/expected.yaml", "StatefulSet", "db")
	ns, err := podsim.NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	secrets := map[string]map[string]string{"db-credentials": {"username": "exporter", "password": "db-e2e-Secret"}}
	metrics := expRunContainer(t, ns, exporterBin, tmpl, ctr, secrets, "mysql_up")
	if !expHasLine(metrics, "mysql_up 0") {
		t.Errorf("want mysql_up 0 (no server):\n%s", expGrep(metrics, "mysql_"))
	}
	// No server: the generated rule's alert fires on the real exporter's
	// mysql_up.
	expPrometheus(t, "patterns/exporter/testdata/mysql-podmonitor/expected.yaml", "db", ns, exporterBin, tmpl, ctr, secrets,
		`mysql_up{job="shop/db-exporter"}`, 0, "SidecarizeExporterTargetDown")
}

// expTempDirFor is a temp dir owned by the Debian user.
func expTempDirFor(t *testing.T, user string) string {
	t.Helper()
	uid, gid := expLookupUser(t, user)
	dir, err := os.MkdirTemp("", "sidecarize-e2e-"+user+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// expStartDaemon runs a server in the foreground inside the namespace as the
// Debian user, until the test ends, and waits for it to listen on port.
func expStartDaemon(t *testing.T, ns *podsim.NetNS, user, dir string, port int, bin string, args ...string) {
	t.Helper()
	uid, gid := expLookupUser(t, user)
	var logs podsim.SyncBuffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, Setpgid: true}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	done, err := ns.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), logs.String())
		}
	})
	expWaitListening(t, ns, port, done, &logs)
}
