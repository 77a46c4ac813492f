package ambassador_test

import (
	"fmt"
	"strings"

	"github.com/sidecarize/sidecarize/patterns/ambassador"
	"github.com/sidecarize/sidecarize/transform"
)

// The frontend of seed 1 calls its API at http://api. With an ambassador,
// the env var points at the local HAProxy, which carries the calls with a
// circuit breaker and serves a canned response while the API is out.
func Example() {
	config := `
apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
spec:
  rules:
  - select: {names: [frontend]}
    ambassadors:
      upstreams:
      - upstream: http://api
        env: [API_URL]
        circuitBreaker: {consecutiveErrors: 3, healthCheck: {path: /healthz}}
        fallback: {status: 200, body: '{"quotes": []}'}
`
	input := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers:
      - name: frontend
        image: example/frontend:1.0
        env:
        - {name: API_URL, value: "http://api/quotes?limit=5"}
`
	patterns := []transform.Pattern{ambassador.Pattern{}}
	cfg, err := transform.LoadConfig("sidecarize.yaml", []byte(config), patterns)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _, err := (&transform.Engine{Patterns: patterns, Config: cfg}).Process("app.yaml", []byte(input))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		for _, p := range []string{"- {name: API_URL", "value: http://127", "bind 127", "http-request return status 200 content-type \"", "server-template api"} {
			if strings.HasPrefix(line, p) {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// - {name: API_URL, value: "http://127.0.0.1:9001/quotes?limit=5"}
	// bind 127.0.0.1:9001
	// http-request return status 200 content-type "application/json" hdr x-sidecarize-circuit open string "{\"quotes\": []}" if { nbsrv(be_api) eq 0 }
	// server-template api 4 "api.${POD_NAMESPACE-shop}.svc.cluster.local:80" maxconn 100 resolvers cluster check inter 2s rise 5 fall 3 observe layer7 error-limit 3 on-error mark-down
}
