package cli

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// stdinHint tells a user who typed `sidecarize` alone at a terminal what it
// is waiting for, instead of waiting silently.
func stdinHint(stdin io.Reader, stderr io.Writer) {
	f, ok := stdin.(*os.File)
	if !ok {
		return
	}
	if !term.IsTerminal(int(f.Fd())) {
		return
	}
	fmt.Fprintln(stderr, "sidecarize: reading manifests from stdin (end with Ctrl-D); give files or directories as arguments, or see `sidecarize help`")
}
