// Package templates holds the text/templates of the generated proxy and agent
// configuration files: HAProxy's haproxy.cfg (monitor, tls, ambassador) and
// Fluent Bit's YAML config (logs). Kubernetes objects are never templated as
// text, and neither is Envoy's bootstrap: the tracing pattern builds it as
// typed values and marshals it (docs/design.md#structure-not-text).
package templates
