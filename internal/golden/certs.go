package golden

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTestCertificates lays out a throwaway self-signed certificate for
// every relative `crt <file>` of an HAProxy config in dir, where `haproxy -c`
// runs: HAProxy loads certificates while parsing, so a TLS config only
// validates with them present. Generated configs name mounted certificates
// relative to the mount (`haproxy -C <mount>`), and the files are laid out
// the way a kubernetes.io/tls Secret has them: the certificate in
// <name>.crt, its key beside it in <name>.key (which HAProxy only finds with
// `ssl-load-extra-del-ext`, so a config that would not load the Secret's key
// fails here too). Absolute paths are left alone: they must exist.
func writeTestCertificates(t *testing.T, dir, cfg string) {
	t.Helper()
	for _, line := range strings.Split(cfg, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != "bind" && f[0] != "server") {
			continue
		}
		for i := 1; i+1 < len(f); i++ {
			if f[i] != "crt" || filepath.IsAbs(f[i+1]) {
				continue
			}
			crt := filepath.Join(dir, filepath.Clean(f[i+1]))
			if !strings.HasPrefix(crt, dir+string(filepath.Separator)) {
				t.Fatalf("crt %q leaves the config's directory", f[i+1])
			}
			key := strings.TrimSuffix(crt, filepath.Ext(crt)) + ".key"
			certPEM, keyPEM := SelfSigned(t, "sidecarize.test")
			if err := os.MkdirAll(filepath.Dir(crt), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(crt, certPEM, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// SelfSigned returns a PEM certificate for the DNS names (the first is the
// subject) and its PEM (PKCS#8) private key, valid for a day.
func SelfSigned(t testing.TB, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
}
