package transform

// Retargeted returns the outermost proxy that patterns applied earlier to
// this workload put in front of an app port (by number), following chains
// (app → proxy A → proxy B), so that a later proxy can chain in front of it
// instead of being bypassed. Service edits are applied in order, so a later
// retarget of the outermost proxy's port moves the Service on to the later
// proxy, and uninject still restores the original targetPort (recorded once,
// by the first edit).
func (w *Workload) Retargeted(appPort int32) (ServiceEdit, bool) {
	var last ServiceEdit
	found := false
	port := appPort
	for range w.status.Services {
		next := false
		for _, e := range w.status.Services {
			if e.Op == "retarget" && e.AppPort == port && e.ProxyPort != port {
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
