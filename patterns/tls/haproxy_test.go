package tls_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/internal/golden"
	tlspattern "github.com/sidecarize/sidecarize/patterns/tls"
	"github.com/sidecarize/sidecarize/transform"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proxy is the generated tls-proxy running for real.
type proxy struct {
	tlsPort, redirectPort, metricsPort int
	roots                              *x509.CertPool
}

// startProxy transforms a Deployment whose app listens on appPort, lays out
// the container's filesystem under a temp root (the ConfigMap at its mount,
// a self-signed certificate where the kubernetes.io/tls Secret is mounted,
// tls.crt and tls.key as the Secret has them) and runs the container's own
// command with those paths moved under the root.
func startProxy(t *testing.T, bin string, appPort int, extra string) *proxy {
	t.Helper()
	p := &proxy{tlsPort: freePort(t), redirectPort: freePort(t), metricsPort: freePort(t)}
	cfg := fmt.Sprintf(`apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: t}
spec:
  rules:
    - tls: {secretName: web-tls, tlsPort: %d, redirectPort: %d, metricsPort: %d, httpsPort: 443%s}
`, p.tlsPort, p.redirectPort, p.metricsPort, extra)
	in := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "example/web:1.0", ports: [{name: http, containerPort: %d}]}
`, appPort)
	c, err := transform.LoadConfig("config.yaml", []byte(cfg), []transform.Pattern{tlspattern.Pattern{}})
	if err != nil {
		t.Fatal(err)
	}
	e := &transform.Engine{Patterns: []transform.Pattern{tlspattern.Pattern{}}, Config: c, Version: "test"}
	out, _, err := e.Process("in.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	objs := golden.Objects(t, out)
	haproxyCfg := objs["ConfigMap/web-tls"].GetDataMap()["haproxy.cfg"]
	ctr, err := objs["Deployment/web"].Pipe(yaml.Lookup("spec", "template", "spec", "initContainers"), yaml.MatchElement("name", tlspattern.ContainerName))
	if err != nil || ctr == nil {
		t.Fatalf("no %s container: %v", tlspattern.ContainerName, err)
	}
	cmdNode, err := ctr.Pipe(yaml.Lookup("command"))
	if err != nil || cmdNode == nil {
		t.Fatalf("no command: %v", err)
	}
	var argv []string
	for _, n := range cmdNode.YNode().Content {
		argv = append(argv, n.Value)
	}

	root := t.TempDir()
	certDir := filepath.Join(root, tlspattern.CertDir)
	cfgFile := filepath.Join(root, "/usr/local/etc/haproxy/haproxy.cfg")
	certPEM, keyPEM := golden.SelfSigned(t, "web.example")
	for f, data := range map[string][]byte{
		filepath.Join(certDir, "tls.crt"): certPEM,
		filepath.Join(certDir, "tls.key"): keyPEM,
		cfgFile:                           []byte(haproxyCfg),
	} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.roots = x509.NewCertPool()
	p.roots.AppendCertsFromPEM(certPEM)
	// The container's command, its absolute paths moved under the root.
	for i, a := range argv {
		if strings.HasPrefix(a, "/") {
			argv[i] = filepath.Join(root, a)
		}
	}
	if filepath.Base(argv[0]) != "haproxy" {
		t.Fatalf("command %q does not run haproxy", argv)
	}
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy %q output:\n%s", argv, logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range []int{p.tlsPort, p.redirectPort, p.metricsPort} {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy does not listen on %d: %v\n%s", port, err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return p
}

// app is the app stand-in: it answers with what it saw.
func startApp(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app: %s %s proto=%s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Forwarded-Proto"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func (p *proxy) client(min, max uint16) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: p.roots, ServerName: "web.example", MinVersion: min, MaxVersion: max},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// TestHAProxyTerminatesTLS runs the generated proxy with a certificate laid
// out like the Secret: a verifying TLS client gets the app's response, TLS
// 1.1 is refused, plain HTTP on the redirect port is sent to HTTPS, and the
// metrics endpoint answers.
func TestHAProxyTerminatesTLS(t *testing.T) {
	for _, h := range golden.RequireHAProxies(t) {
		t.Run("haproxy-"+h.Version, func(t *testing.T) { testHAProxyTerminatesTLS(t, h.Path) })
	}
}

func testHAProxyTerminatesTLS(t *testing.T, bin string) {
	p := startProxy(t, bin, startApp(t), "")
	url := fmt.Sprintf("https://127.0.0.1:%d/hello?x=1", p.tlsPort)

	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
		resp, err := p.client(v.ver, v.ver).Get(url)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "app: GET /hello?x=1 proto=https" {
			t.Errorf("%s: %d %q, want the app's response", v.name, resp.StatusCode, body)
		}
		if resp.TLS == nil || resp.TLS.Version != v.ver {
			t.Errorf("%s: negotiated %v", v.name, resp.TLS)
		}
		if v.ver == tls.VersionTLS13 && resp.ProtoMajor != 2 {
			t.Errorf("ALPN: got HTTP/%d, want h2", resp.ProtoMajor)
		}
	}

	// TLS 1.1 (and 1.0) are refused by the proxy. The same client completes
	// a handshake with a server that allows them, so the refusal is the
	// proxy's.
	if _, err := p.client(tls.VersionTLS10, tls.VersionTLS11).Get(url); err == nil {
		t.Errorf("a TLS 1.1 client got through")
	} else {
		t.Logf("TLS 1.1 refused: %v", err)
	}
	if err := tls11Handshake(t); err != nil {
		t.Errorf("control: a TLS 1.1 handshake with a permissive server fails too (%v): the refusal above proves nothing", err)
	}

	// The redirect port sends plain HTTP to HTTPS, host without its port.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/a/b?c=d", p.redirectPort), nil)
	req.Host = "web.example:8080"
	resp, err := p.client(0, 0).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://web.example/a/b?c=d" {
		t.Errorf("redirect: %d Location %q, want 301 https://web.example/a/b?c=d", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `haproxy_frontend_http_requests_total{proxy="tls"}`) {
		t.Errorf("metrics lack the tls frontend's request counter:\n%.500s", body)
	}
}

// TestHAProxyTLS13Only: minVersion TLSv1.3 refuses TLS 1.2.
func TestHAProxyTLS13Only(t *testing.T) {
	for _, h := range golden.RequireHAProxies(t) {
		t.Run("haproxy-"+h.Version, func(t *testing.T) { testHAProxyTLS13Only(t, h.Path) })
	}
}

func testHAProxyTLS13Only(t *testing.T, bin string) {
	p := startProxy(t, bin, startApp(t), ", minVersion: TLSv1.3")
	url := fmt.Sprintf("https://127.0.0.1:%d/", p.tlsPort)
	if _, err := p.client(tls.VersionTLS12, tls.VersionTLS12).Get(url); err == nil {
		t.Errorf("a TLS 1.2 client got through minVersion TLSv1.3")
	}
	resp, err := p.client(tls.VersionTLS13, tls.VersionTLS13).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// tls11Handshake completes a TLS 1.1 handshake with a Go server that allows
// it: the control for the refusal test.
func tls11Handshake(t *testing.T) error {
	certPEM, keyPEM := golden.SelfSigned(t, "control.example")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10})
	if err != nil {
		return err
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}
	c, err := d.DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		return err
	}
	return c.Close()
}
