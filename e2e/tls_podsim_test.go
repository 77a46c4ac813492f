package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

// tlsGoldens are the tls pattern's outputs that run for real.
const tlsGoldens = "patterns/tls/testdata/*/expected.yaml"

// tlsHost is the name in the test certificate.
const tlsHost = "tls.e2e.example"

// TestTLSProxy runs the tls-proxy container of every tls golden output the
// way its pod would: in a network namespace of its own, as its user, with
// its ConfigMap and a self-signed certificate written where the
// kubernetes.io/tls Secret is mounted (tls.crt and tls.key, through the
// volume's items), its command's mounted paths moved under a temp root, and
// an app stand-in on the app port. Through each Service port retargeted to
// the proxy, a verifying TLS client gets the app's response (HTTP, or bytes
// echoed in tcp mode); TLS 1.1 is refused; the redirect port, if any, sends
// plain HTTP to HTTPS. On every HAProxy version of the matrix.
func TestTLSProxy(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(env.RepoRoot(), tlsGoldens))
	if err != nil || len(files) == 0 {
		t.Fatalf("no tls golden outputs (%s): %v", tlsGoldens, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := manifest.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			tmpl := o.PodTemplate()
			if tmpl == nil {
				continue
			}
			for _, c := range manifest.Containers(tmpl) {
				if c.Name() != "tls-proxy" {
					continue
				}
				rel, _ := filepath.Rel(env.RepoRoot(), f)
				t.Run(rel+"/"+o.Kind()+"/"+o.Name(), func(t *testing.T) {
					eachHAProxy(t, func(t *testing.T, h env.HAProxy) { runTLSPod(t, objs, o, c, h) })
				})
			}
		}
	}
}

func runTLSPod(t *testing.T, objs []manifest.Object, w manifest.Object, proxy manifest.Container, h env.HAProxy) {
	tmpl := w.PodTemplate()
	ns, err := podsim.NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	certPEM, keyPEM := tlsSelfSigned(t, tlsHost)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)

	// The container's filesystem: its ConfigMap and Secret volumes.
	root, err := os.MkdirTemp("", "sidecarize-e2e-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	vols := map[string]map[string]any{}
	for _, v := range manifest.Slice(tmpl, "spec", "volumes") {
		m := v.(map[string]any)
		vols[manifest.Str(m, "name")] = m
	}
	var mounts []string
	tcpMode := false
	for _, vm := range manifest.Slice(proxy.M, "volumeMounts") {
		m := vm.(map[string]any)
		v := vols[manifest.Str(m, "name")]
		if manifest.Str(m, "subPath") != "" || fmt.Sprint(m["readOnly"]) != "true" {
			t.Errorf("mount %v: want a read-only volume mount without subPath", m)
		}
		files := map[string][]byte{}
		switch {
		case v["configMap"] != nil:
			cm := findObject(t, objs, "ConfigMap", w.Namespace(), manifest.Str(v, "configMap", "name"))
			for k, d := range manifest.Map(cm, "data") {
				files[k] = []byte(fmt.Sprint(d))
				if strings.Contains(fmt.Sprint(d), "\n    mode tcp\n") {
					tcpMode = true
				}
			}
		case v["secret"] != nil:
			// The kubernetes.io/tls Secret, as the kubelet projects it.
			secret := map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": certPEM}
			items := manifest.Slice(v, "secret", "items")
			if len(items) == 0 {
				files = secret
			}
			for _, it := range items {
				im := it.(map[string]any)
				d, ok := secret[manifest.Str(im, "key")]
				if !ok {
					t.Fatalf("Secret item %v: a kubernetes.io/tls Secret has no such key", im)
				}
				files[manifest.Str(im, "path")] = d
			}
		default:
			t.Fatalf("unexpected volume %v", v)
		}
		mp := manifest.Str(m, "mountPath")
		mounts = append(mounts, mp)
		for name, d := range files {
			dst := filepath.Join(root, mp, name)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, d, 0o644); err != nil { // the Secret volume's default mode
				t.Fatal(err)
			}
		}
	}

	// The app stand-in on the backend's port.
	appPort := 0
	for _, c := range manifest.Containers(tmpl) {
		if c.Name() == proxy.Name() || c.Init {
			continue
		}
		for _, p := range manifest.Slice(c.M, "ports") {
			appPort, _ = strconv.Atoi(fmt.Sprint(manifest.Get(p.(map[string]any), "containerPort")))
		}
	}
	l, err := ns.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", appPort))
	if err != nil {
		t.Fatal(err)
	}
	if tcpMode {
		go tlsEchoServe(l)
	} else {
		srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(rw, "app %s %s", r.URL.RequestURI(), r.Header.Get("X-Forwarded-Proto"))
		})}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}

	// The container's command with the mounted paths under the root.
	argv := append(expStrings(manifest.Slice(proxy.M, "command")), expStrings(manifest.Slice(proxy.M, "args"))...)
	if len(argv) == 0 || path.Base(argv[0]) != "haproxy" {
		t.Fatalf("command %q does not run haproxy", argv)
	}
	argv[0] = h.Path
	for i, a := range argv {
		for _, mp := range mounts {
			if a == mp || strings.HasPrefix(a, mp+"/") {
				argv[i] = filepath.Join(root, a)
			}
		}
	}
	uid, gid := expContainerUser(t, tmpl, proxy)
	var logs podsim.SyncBuffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, Setpgid: true}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	done, err := ns.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("haproxy %q output:\n%s", argv, logs.String())
		}
	})
	ports := map[string]int{}
	for _, p := range manifest.Slice(proxy.M, "ports") {
		m := p.(map[string]any)
		n, _ := strconv.Atoi(fmt.Sprint(m["containerPort"]))
		ports[manifest.Str(m, "name")] = n
		expWaitListening(t, ns, n, done, &logs)
	}

	// The ports clients reach: the Services' targetPorts that moved to the
	// proxy, or the proxy's TLS port when no Service selects the pod.
	targets := serviceTargets(objs, w, ports)
	if len(targets) == 0 {
		targets = []int{ports["tls-https"]}
	}
	if targets[0] != ports["tls-https"] {
		t.Errorf("the Service targets port %d, not the proxy's TLS port %d", targets[0], ports["tls-https"])
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return ns.DialContext(ctx, network, addr)
	}
	tlsConf := func(min, max uint16) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: tlsHost, MinVersion: min, MaxVersion: max}
	}
	for _, port := range targets {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if tcpMode {
			tlsEchoCheck(t, dial, addr, tlsConf(tls.VersionTLS12, 0))
		} else {
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial, TLSClientConfig: tlsConf(tls.VersionTLS12, 0), ForceAttemptHTTP2: true}}
			resp, err := client.Get("https://" + addr + "/orders?id=7")
			if err != nil {
				t.Fatalf("TLS client: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "app /orders?id=7 https" {
				t.Errorf("TLS client got %d %q, want the app's response", resp.StatusCode, body)
			}
			t.Logf("port %d: %s over %s, %s", port, resp.Status, resp.Proto, tls.VersionName(resp.TLS.Version))
		}
		// TLS 1.1 is refused.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		raw, err := ns.DialContext(ctx, "tcp", addr)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c := tls.Client(raw, tlsConf(tls.VersionTLS10, tls.VersionTLS11))
		if err := c.Handshake(); err == nil {
			t.Errorf("port %d: a TLS 1.1 handshake succeeded", port)
		} else {
			t.Logf("port %d: TLS 1.1 refused: %v", port, err)
		}
		c.Close()
	}

	if rp, ok := ports["tls-redirect"]; ok {
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/login?next=%%2F", rp), nil)
		req.Host = tlsHost + ":80"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(loc, "https://"+tlsHost) || !strings.HasSuffix(loc, "/login?next=%2F") {
			t.Errorf("redirect port: %d Location %q, want 301 to https://%s…/login?next=%%2F", resp.StatusCode, loc, tlsHost)
		}
		// Following it (the Location's host is the certificate's name; the
		// test dials the proxy's TLS port) reaches the app.
		follow := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return ns.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", ports["tls-https"]))
			},
			TLSClientConfig: tlsConf(tls.VersionTLS12, 0),
		}}
		resp, err = follow.Get(loc)
		if err != nil {
			t.Fatalf("following the redirect: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "app /login?next=%2F https" {
			t.Errorf("after the redirect: %q", body)
		}
	}
}

// serviceTargets are the proxy ports the Services selecting the pod target.
func serviceTargets(objs []manifest.Object, w manifest.Object, ports map[string]int) []int {
	labels := manifest.Map(w.PodTemplate(), "metadata", "labels")
	var out []int
	for _, s := range objs {
		if s.Kind() != "Service" || s.NamespaceOr("default") != w.NamespaceOr("default") {
			continue
		}
		sel := manifest.Map(s, "spec", "selector")
		match := len(sel) > 0
		for k, v := range sel {
			if fmt.Sprint(labels[k]) != fmt.Sprint(v) {
				match = false
			}
		}
		if !match {
			continue
		}
		for _, p := range manifest.Slice(s, "spec", "ports") {
			tp := fmt.Sprint(manifest.Get(p.(map[string]any), "targetPort"))
			n, err := strconv.Atoi(tp)
			if err != nil {
				n = ports[tp]
			}
			if n != 0 && n != ports["tls-metrics"] {
				out = append(out, n)
			}
		}
	}
	return out
}

func findObject(t *testing.T, objs []manifest.Object, kind, ns, name string) manifest.Object {
	t.Helper()
	for _, o := range objs {
		if o.Kind() == kind && o.Namespace() == ns && o.Name() == name {
			return o
		}
	}
	t.Fatalf("%s %s/%s is not in the output", kind, ns, name)
	return nil
}

func tlsEchoServe(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() { io.Copy(c, c); c.Close() }()
	}
}

func tlsEchoCheck(t *testing.T, dial func(context.Context, string, string) (net.Conn, error), addr string, conf *tls.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, conf)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping over tls\n")); err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "ping over tls\n" {
		t.Errorf("TLS echo: %q %v", line, err)
	}
	t.Logf("%s: echoed over %s", addr, tls.VersionName(c.ConnectionState().Version))
}

// tlsSelfSigned is a certificate and PKCS#8 key (PEM) for host, valid a day.
func tlsSelfSigned(t *testing.T, host string) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
}
