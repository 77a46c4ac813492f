// Package page is the example pattern of docs/adding-a-pattern.md: a
// sidecar that serves a static page (a maintenance or status page) with
// busybox httpd on a port of its own, from a generated ConfigMap, and adds
// that port to the Services that select the pods.
//
// It is built and tested like the six real patterns but not registered in
// patterns.All(): it exists to prove that a pattern needs nothing from the
// engine beyond its public API (adding it touched no file in transform/).
// Its decisions are in docs/example/page.md.
package page
