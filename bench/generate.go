package main

import (
	"bytes"
	"fmt"
)

// Generate writes n realistic Deployment + Service pairs (about 50 lines
// each, with comments, probes, resources, env).
func Generate(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `# Service %[1]d of the shop: owned by team-%[2]d
apiVersion: v1
kind: Service
metadata:
  name: svc-%[1]d
  namespace: team-%[2]d
  labels:
    app: svc-%[1]d # selects the Deployment below
spec:
  selector:
    app: svc-%[1]d
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-%[1]d
  namespace: team-%[2]d
  labels: {app: svc-%[1]d, tier: backend}
spec:
  replicas: 2 # HA
  selector:
    matchLabels:
      app: svc-%[1]d
  template:
    metadata:
      labels:
        app: svc-%[1]d
    spec:
      containers:
      - name: app
        image: registry.example.com/shop/svc-%[1]d:1.%[2]d.0
        args: ["--port=8080", "--log-level=info"]
        ports:
        - name: http
          containerPort: 8080
        env:
        - name: DB_HOST
          value: db.team-%[2]d.svc
        readinessProbe:
          httpGet: {path: /healthz, port: http}
        resources:
          requests: {cpu: 50m, memory: 64Mi}
          limits: {cpu: 500m, memory: 256Mi}
---
`, i, i%20)
	}
	return b.Bytes()
}
