// Command sidecarize productionises Kubernetes workloads with the sidecar,
// adapter and ambassador patterns. See the README.
package main

import (
	"os"

	"github.com/sidecarize/sidecarize/cli"
)

func main() { os.Exit(cli.Main()) }
