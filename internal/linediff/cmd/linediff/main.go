// Command linediff checks that an output differs from its input only on
// lines that carry an edit (package linediff); the e2e tests, a module of
// their own, run it on real manifests.
//
//	go run ./internal/linediff/cmd/linediff input.yaml output.yaml
package main

import (
	"fmt"
	"os"

	"github.com/sidecarize/sidecarize/internal/linediff"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: linediff INPUT OUTPUT")
		os.Exit(2)
	}
	in, err := os.ReadFile(os.Args[1])
	if err == nil {
		var out []byte
		if out, err = os.ReadFile(os.Args[2]); err == nil {
			bad := linediff.Check(in, out)
			for _, m := range bad {
				fmt.Println(m)
			}
			if len(bad) > 0 {
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}
