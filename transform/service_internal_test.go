package transform

import (
	"fmt"
	"testing"
)

// TestServiceIndexFilesUnderTheRarestPair: Services that share a pair
// (one release's instance label, sorted first) are filed under the pair
// that tells them apart, so a pod's candidates are the Services that may
// select it, not every Service of the release; and the index finds a
// Service whatever pair it is filed under.
func TestServiceIndexFilesUnderTheRarestPair(t *testing.T) {
	var svcs []*service
	for i := 0; i < 100; i++ {
		svcs = append(svcs, &service{order: i, info: ServiceInfo{Namespace: "shop"}, selector: map[string]string{
			"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": fmt.Sprint("svc-", i),
		}})
	}
	// Filed under a key no other Service has but its pod lacks a label.
	svcs = append(svcs, &service{order: 100, info: ServiceInfo{Namespace: "shop"}, selector: map[string]string{
		"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": "svc-7", "canary": "",
	}})
	ix := newServiceIndex(svcs)
	pod := map[string]string{"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": "svc-7", "pod-template-hash": "x"}
	var selected []int
	for _, s := range ix.candidates("shop", pod) {
		if s.selects("shop", pod) {
			selected = append(selected, s.order)
		}
	}
	if got := len(ix.candidates("shop", pod)); got > 2 {
		t.Errorf("%d candidates for one pod of 101 Services, want at most 2", got)
	}
	if fmt.Sprint(selected) != "[7]" {
		t.Errorf("selected %v, want [7]", selected)
	}
	pod["canary"] = ""
	selected = nil
	for _, s := range ix.candidates("shop", pod) {
		if s.selects("shop", pod) {
			selected = append(selected, s.order)
		}
	}
	if fmt.Sprint(selected) != "[7 100]" {
		t.Errorf("with canary: selected %v, want [7 100]", selected)
	}
	if got := ix.candidates("other", pod); len(got) != 0 {
		t.Errorf("another namespace: %d candidates", len(got))
	}
}
