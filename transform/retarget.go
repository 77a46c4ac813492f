package transform

// Retargeted returns the "retarget" edit that earlier patterns recorded in
// this run for the app port (by number), following a chain of proxies to the
// outermost one, so that a pattern that also fronts the app port (tls after
// monitor) chains in front of that proxy instead of being silently bypassed:
// it forwards to the returned ProxyPort and retargets from it (AppPort and
// AppPortName = that proxy's port and name). Service edits apply in the order
// recorded, so the Service ends at the outermost proxy, and uninject restores
// the original targetPort (the first one recorded).
func (w *Workload) Retargeted(appPort int32) (ServiceEdit, bool) {
	var last ServiceEdit
	found := false
	port := appPort
	for hops := 0; hops <= len(w.status.Services); hops++ {
		next := false
		for _, e := range w.status.Services {
			if e.Op == OpRetarget && e.AppPort == port && e.ProxyPort != port {
				last, found, next = e, true, true
				port = e.ProxyPort
				break
			}
		}
		if !next {
			break
		}
	}
	return last, found
}
