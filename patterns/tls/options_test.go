package tls_test

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	tlspattern "github.com/sidecarize/sidecarize/patterns/tls"
	"github.com/sidecarize/sidecarize/transform"
)

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		set     func(o *tlspattern.Options)
		wantErr string
	}{
		"secret":          {set: func(o *tlspattern.Options) { o.SecretName = "web-tls" }},
		"needs a secret":  {set: func(o *tlspattern.Options) {}, wantErr: "secretName: name the kubernetes.io/tls Secret"},
		"bad secret name": {set: func(o *tlspattern.Options) { o.SecretName = "Web_TLS" }, wantErr: `secretName: "Web_TLS"`},
		"TLS 1.1 refused": {set: func(o *tlspattern.Options) { o.SecretName = "s"; o.MinVersion = "TLSv1.1" }, wantErr: "minVersion"},
		"low port":        {set: func(o *tlspattern.Options) { o.SecretName = "s"; o.TLSPort = 443 }, wantErr: "tlsPort: 443"},
		"same ports":      {set: func(o *tlspattern.Options) { o.SecretName = "s"; o.RedirectPort = 8443 }, wantErr: "tlsPort and redirectPort are both 8443"},
		"redirect tcp":    {set: func(o *tlspattern.Options) { o.SecretName = "s"; o.Protocol = "tcp"; o.RedirectPort = 8080 }, wantErr: "redirectPort"},
		"hsts tcp":        {set: func(o *tlspattern.Options) { o.SecretName = "s"; o.Protocol = "tcp"; o.HSTS = 60 }, wantErr: "hsts"},
		"bad protocol":    {set: func(o *tlspattern.Options) { o.SecretName = "s"; o.Protocol = "udp" }, wantErr: "protocol"},
		"cert-manager": {set: func(o *tlspattern.Options) {
			o.CertManager = &tlspattern.CertManager{IssuerRef: tlspattern.IssuerRef{Name: "ca"}}
		}},
		"issuer name": {set: func(o *tlspattern.Options) { o.CertManager = &tlspattern.CertManager{} }, wantErr: "certManager.issuerRef.name"},
		"issuer kind": {set: func(o *tlspattern.Options) {
			o.CertManager = &tlspattern.CertManager{IssuerRef: tlspattern.IssuerRef{Name: "ca", Kind: "Vault"}}
		}, wantErr: "certManager.issuerRef.kind"},
		"external issuer": {set: func(o *tlspattern.Options) {
			o.CertManager = &tlspattern.CertManager{IssuerRef: tlspattern.IssuerRef{Name: "ca", Kind: "AWSPCAIssuer", Group: "awspca.cert-manager.io"}}
		}},
		"bad dns name": {set: func(o *tlspattern.Options) {
			o.CertManager = &tlspattern.CertManager{IssuerRef: tlspattern.IssuerRef{Name: "ca"}, DNSNames: []string{"a b"}}
		}, wantErr: "certManager.dnsNames[0]"},
		"wildcard dns": {set: func(o *tlspattern.Options) {
			o.CertManager = &tlspattern.CertManager{IssuerRef: tlspattern.IssuerRef{Name: "ca"}, DNSNames: []string{"*.shop.example"}}
		}},
		"bad timeout":      {set: func(o *tlspattern.Options) { o.SecretName = "s"; o.Timeout = "1 minute" }, wantErr: "timeout"},
		"bad metrics path": {set: func(o *tlspattern.Options) { o.SecretName = "s"; o.MetricsPath = "metrics" }, wantErr: "metricsPath"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := tlspattern.Default()
			tc.set(o)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("no error, want %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestCertManagerNeedsNames: without Services or dnsNames there is nothing
// to put in the certificate.
func TestCertManagerNeedsNames(t *testing.T) {
	o := tlspattern.Default()
	if err := transform.SetOption(o, "certManager.issuerRef.name", "ca"); err != nil {
		t.Fatal(err)
	}
	cfg := `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: t}
spec:
  rules:
    - tls: {certManager: {issuerRef: {name: ca}}}
`
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "example/web:1.0", ports: [{containerPort: 8080}]}
`
	c, err := transform.LoadConfig("config.yaml", []byte(cfg), []transform.Pattern{tlspattern.Pattern{}})
	if err != nil {
		t.Fatal(err)
	}
	e := &transform.Engine{Patterns: []transform.Pattern{tlspattern.Pattern{}}, Config: c, Version: "test"}
	_, _, err = e.Process("in.yaml", []byte(in))
	if err == nil || !strings.Contains(err.Error(), "certManager.dnsNames: no Service selects the pods") {
		t.Fatalf("err = %v", err)
	}
}

func Example() {
	cfg := `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: productionise}
spec:
  rules:
    - tls: {secretName: web-tls, redirectPort: 8080}
`
	in := `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: https, port: 443, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "example/web:1.0", ports: [{name: http, containerPort: 3000}]}
`
	c, err := transform.LoadConfig("config.yaml", []byte(cfg), []transform.Pattern{tlspattern.Pattern{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := &transform.Engine{Patterns: []transform.Pattern{tlspattern.Pattern{}}, Config: c, Version: "example"}
	out, _, err := e.Process("web.yaml", []byte(in))
	if err != nil {
		fmt.Println(err)
		return
	}
	docs := strings.Split(string(out), "\n---\n")
	svc, _ := yaml.Parse(docs[0])
	port, _ := svc.Pipe(yaml.Lookup("spec", "ports", "[name=https]", "targetPort"))
	fmt.Println("Service https targetPort:", port.YNode().Value)
	for _, d := range docs {
		n, _ := yaml.Parse(d)
		if n.GetKind() != "ConfigMap" {
			continue
		}
		for _, line := range strings.Split(n.GetDataMap()["haproxy.cfg"], "\n") {
			l := strings.TrimSpace(line)
			if strings.HasPrefix(l, "bind") || strings.HasPrefix(l, "ssl-default-bind-options") || strings.HasPrefix(l, "http-request redirect") {
				fmt.Println(l)
			}
		}
	}
	// Output:
	// Service https targetPort: tls-https
	// ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
	// bind *:9103
	// bind *:8080
	// http-request redirect location https://%[req.hdr(host),field(1,:)]%[pathq] code 301
	// bind *:8443 ssl crt tls.crt alpn h2,http/1.1
}
