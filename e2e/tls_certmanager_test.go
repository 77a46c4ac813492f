package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/cluster"
	"github.com/sidecarize/sidecarize/e2e/internal/env"
)

// tlsCertManagerCase generates a cert-manager Certificate.
const tlsCertManagerCase = "patterns/tls/testdata/redirect-cert-manager/expected.yaml"

// TestTLSCertManagerCertificate installs cert-manager's own CRDs and checks
// the tls pattern's output with a Certificate against them (strict
// server-side validation, unknown fields rejected).
func TestTLSCertManagerCertificate(t *testing.T) {
	c := kube(t)
	ctx := ctxFor(t, 3*time.Minute)
	version, err := env.Version("CERT_MANAGER_VERSION")
	if err != nil {
		t.Fatal(err)
	}
	// The suite's cluster installs them too; installing again is a no-op
	// and keeps this test independent of that.
	if err := c.InstallCRDs(ctx, cluster.CertManagerCRDs(version)); err != nil {
		t.Fatalf("install cert-manager CRDs: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(env.RepoRoot(), tlsCertManagerCase))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkApply(ctx, c, data); err != nil {
		t.Errorf("%s: apply --dry-run=server --validate=strict: %v", tlsCertManagerCase, err)
	}
}
