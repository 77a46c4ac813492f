// Package templates holds the generated proxy and agent configuration files
// (haproxy.cfg, fluent-bit, envoy.yaml) as text/templates. Kubernetes objects
// are never templated as text: only the proxies' own config files are.
package templates
