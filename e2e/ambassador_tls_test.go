package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

const ambassadorTLSConfig = `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: e2e-tls}
spec:
  rules:
    - select: {names: [frontend]}
      ambassadors:
        upstreams:
          - name: quotes
            upstream: https://127.0.0.2:8443
            sni: quotes.example.com
            ca: {name: quotes-ca}
            env: [QUOTES_URL]
            circuitBreaker:
              healthCheck: {path: /healthz, interval: 200ms}
              recoverAfter: 200ms
            fallback: {status: 200, body: canned}
`

const ambassadorTLSInput = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  namespace: shop
spec:
  selector:
    matchLabels: {app: frontend}
  template:
    metadata:
      labels: {app: frontend}
    spec:
      containers:
      - name: frontend
        image: ghcr.io/example/frontend:1.4.2
        env:
        - name: QUOTES_URL
          value: https://127.0.0.2:8443/today
`

// TestAmbassadorTLS: the app talks plain HTTP to the ambassador, which
// originates TLS to the upstream with the configured SNI and verifies its
// certificate against the CA mounted from the Secret; a certificate from
// another CA takes the upstream out. On every HAProxy version of the matrix.
func TestAmbassadorTLS(t *testing.T) {
	t.Parallel()
	eachHAProxy(t, testAmbassadorTLS)
}

func testAmbassadorTLS(t *testing.T, h env.HAProxy) {
	haproxyBin := h.Path
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "sidecarize.yaml")
	if err := os.WriteFile(cfgFile, []byte(ambassadorTLSConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runSidecarize(t, []byte(ambassadorTLSInput), "-c", cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := podsim.Load(out)
	if err != nil || len(pods) != 1 {
		t.Fatalf("want 1 pod: %v\n%s", err, out)
	}
	if v := ambEnvOf(t, pods[0], "frontend", "QUOTES_URL"); v != "http://127.0.0.1:9001/today" {
		t.Fatalf("QUOTES_URL = %q: want plain http to the ambassador", v)
	}
	for _, want := range []string{"secretName: quotes-ca", "mountPath: /etc/sidecarize/ambassador/quotes"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	// The Secret's mount path, moved under the test's directory: the only
	// change to the generated config.
	mount := filepath.Join(dir, "secret")
	cfg := string(pods[0].ConfigMaps["frontend-ambassador"]["haproxy.cfg"])
	if !strings.Contains(cfg, `ca-file "/etc/sidecarize/ambassador/quotes/ca.crt"`) {
		t.Fatalf("config does not use the mounted CA:\n%s", cfg)
	}
	cfg = strings.ReplaceAll(cfg, "/etc/sidecarize/ambassador", mount)
	if err := os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	trustedCA, trustedKey := ambCA(t, "trusted CA")
	otherCA, otherKey := ambCA(t, "other CA")
	if err := os.MkdirAll(filepath.Join(mount, "quotes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mount, "quotes", "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: trustedCA.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	good := ambLeaf(t, "quotes.example.com", trustedCA, trustedKey)
	bad := ambLeaf(t, "quotes.example.com", otherCA, otherKey)

	ns, err := podsim.NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	var cert atomic.Pointer[tls.Certificate]
	cert.Store(&good)
	var served atomic.Int64
	ln, err := ns.Listen("tcp", "127.0.0.2:8443")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				served.Add(1)
			}
			fmt.Fprintf(w, "secure %s sni=%s host=%s", r.URL.Path, r.TLS.ServerName, r.Host)
		}),
		// The handshakes HAProxy rejects are expected.
		ErrorLog: log.New(io.Discard, "", 0),
		// Every handshake a full one: a resumed session (HAProxy caches
		// them per server) would not show the new certificate.
		TLSConfig: &tls.Config{
			SessionTicketsDisabled: true,
			GetCertificate:         func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.Load(), nil },
		},
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()

	logs, exited := ambRunHAProxy(t, ns, haproxyBin, filepath.Join(dir, "haproxy.cfg"), "")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: ns.DialContext, DisableKeepAlives: true}}
	get := func() string {
		resp, err := client.Get("http://127.0.0.1:9001/today")
		if err != nil {
			return "error: " + err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	wait := func(d time.Duration, want string) {
		t.Helper()
		start := time.Now()
		for {
			select {
			case err := <-exited:
				t.Fatalf("haproxy exited: %v\n%s", err, logs.String())
			default:
			}
			got := get()
			if got == want {
				return
			}
			if time.Since(start) > d {
				t.Fatalf("after %s: got %q, want %q\n%s", d, got, want, logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// A certificate from the Secret's CA, for the SNI: traffic flows, with
	// the Host the app used before.
	wait(10*time.Second, "secure /today sni=quotes.example.com host=127.0.0.2:8443")

	// A certificate from another CA: verification fails, health checks
	// take the upstream out, the canned response answers and the server
	// gets no request.
	cert.Store(&bad)
	wait(10*time.Second, "canned")
	before := served.Load()
	for i := 0; i < 10; i++ {
		if got := get(); got != "canned" {
			t.Fatalf("untrusted upstream: got %q", got)
		}
	}
	if n := served.Load() - before; n != 0 {
		t.Errorf("untrusted upstream served %d requests", n)
	}
	if !strings.Contains(logs.String(), "SSL handshake failure") {
		t.Errorf("HAProxy did not report the failed verification:\n%s", logs.String())
	}
	t.Logf("%s", ambGrep(logs.String(), "is DOWN"))

	// Trusted again: back within the recovery time.
	cert.Store(&good)
	wait(5*time.Second, "secure /today sni=quotes.example.com host=127.0.0.2:8443")
}

// ambCA makes a self-signed CA.
func ambCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

// ambLeaf makes a server certificate for host signed by ca.
func ambLeaf(t *testing.T, host string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
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
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// ambGrep returns the lines of s that contain sub.
func ambGrep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
