package cluster

// CertManagerCRDs are cert-manager's Certificate, Issuer and ClusterIssuer
// CRDs (the tls pattern generates Certificates that reference issuers) from
// the cert-manager module's deploy/crds/ (plain CRDs, no Helm templating).
func CertManagerCRDs(version string) ModuleCRDs {
	m := ModuleCRDs{Module: "github.com/cert-manager/cert-manager@" + version}
	for _, n := range []string{"certificates", "issuers", "clusterissuers"} {
		m.Files = append(m.Files, "deploy/crds/cert-manager.io_"+n+".yaml")
		m.Names = append(m.Names, n+".cert-manager.io")
	}
	return m
}
