package cli_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sidecarize/sidecarize/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"sidecarize": func() { os.Exit(cli.Main()) },
		// exitcode N CMD ARGS... runs CMD and succeeds only if it exits N.
		"exitcode": exitcode,
	})
}

// TestScripts runs testdata/script/<command>_<aspect>.txtar. UPDATE_GOLDEN=1
// rewrites the expected output inside the archives.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_GOLDEN") != "",
	})
}

func exitcode() {
	want, err := strconv.Atoi(os.Args[1])
	if err != nil || len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: exitcode N CMD ARGS...")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	got := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		got = ee.ExitCode()
	}
	if got != want {
		fmt.Fprintf(os.Stderr, "exit status %d, want %d\n", got, want)
		os.Exit(1)
	}
}
