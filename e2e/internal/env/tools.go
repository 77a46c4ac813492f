package env

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// FluentBit is the Fluent Bit the logs tests and the demo run:
// $FLUENT_BIT_BIN, else shared/tools/fluent-bit-5.1.1/fluent-bit beside the
// checkout (or beside the directory holding it). It must report Fluent
// Bit 5.1, the default image's minor.
func FluentBit() (string, error) {
	return versioned("FLUENT_BIT_BIN", sharedTool("fluent-bit-5.1.1", "fluent-bit"), "shared/tools/fluent-bit-5.1.1/fluent-bit",
		"--version", "Fluent Bit v5.1.")
}

// Exporter is an exporter built at the version its preset's image pins:
// $envVar, else shared/tools/exporters/<file> beside the checkout (or
// beside the directory holding it). It must report that version.
func Exporter(envVar, file, version string) (string, error) {
	return versioned(envVar, sharedTool("exporters", file), "shared/tools/exporters/"+file,
		"--version", "version "+version+" ")
}

// versioned resolves $envVar, else def, and checks that `bin flag` prints
// want.
func versioned(envVar, def, where, flag, want string) (string, error) {
	bin := os.Getenv(envVar)
	if bin == "" {
		bin = def
	}
	if bin == "" {
		return "", fmt.Errorf("%s not found beside the checkout: set %s", where, envVar)
	}
	out, err := exec.Command(bin, flag).CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		return "", fmt.Errorf("%s %s: want %q (%v):\n%s", bin, flag, want, err, out)
	}
	return bin, nil
}
