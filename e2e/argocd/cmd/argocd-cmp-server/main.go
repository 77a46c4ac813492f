// argocd-cmp-server is Argo CD's Config Management Plugin server, the
// command its sidecar runs (in Argo CD's image one binary dispatches on its
// name; this is that command alone).
package main

import (
	"os"

	cmpserver "github.com/argoproj/argo-cd/v2/cmd/argocd-cmp-server/commands"
)

func main() {
	if err := cmpserver.NewCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
