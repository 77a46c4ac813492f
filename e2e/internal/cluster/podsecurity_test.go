package cluster

import (
	"reflect"
	"testing"
)

func TestParsePodSecurity(t *testing.T) {
	// A rejection as kube-apiserver v1.37 words it.
	msg := `Error from server (Forbidden): error when creating "STDIN": pods "e2e-deployment" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (containers "monitor-proxy", "web" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container "web" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "web" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"), restricted volume types (volume "host" uses restricted volume type "hostPath"), host namespaces (hostNetwork=true)`
	vs, ok := ParsePodSecurity(msg)
	if !ok {
		t.Fatal("not recognised as a Pod Security rejection")
	}
	want := []Violation{
		{Text: `allowPrivilegeEscalation != false (containers "monitor-proxy", "web" must set securityContext.allowPrivilegeEscalation=false)`, Containers: []string{"monitor-proxy", "web"}},
		{Text: `runAsNonRoot != true (pod or container "web" must set securityContext.runAsNonRoot=true)`, Containers: []string{"web"}},
		{Text: `seccompProfile (pod or container "web" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`, Containers: []string{"web"}},
		{Text: `restricted volume types (volume "host" uses restricted volume type "hostPath")`, Volumes: []string{"host"}},
		{Text: `host namespaces (hostNetwork=true)`},
	}
	if !reflect.DeepEqual(vs, want) {
		t.Fatalf("got  %#v\nwant %#v", vs, want)
	}
	if _, ok := ParsePodSecurity(`The Pod "x" is invalid: spec.containers[0].name: Required value`); ok {
		t.Fatal("a validation error taken for a Pod Security rejection")
	}
}
