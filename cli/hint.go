package cli

import (
	"fmt"
	"io"
	"os"
)

// stdinHint tells a user who typed `sidecarize` alone at a terminal what it
// is waiting for, instead of waiting silently.
func stdinHint(stdin io.Reader, stderr io.Writer) {
	f, ok := stdin.(*os.File)
	if !ok {
		return
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return
	}
	fmt.Fprintln(stderr, "sidecarize: reading manifests from stdin (end with Ctrl-D); give files or directories as arguments, or see `sidecarize help`")
}
