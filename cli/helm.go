package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Helm 4 runs post-renderers as plugins (type postrenderer/v1, helm/ in the
// repository) and keeps a plugin's stderr to itself: a failing post-renderer
// shows up as `plugin "sidecarize" exited with error` and nothing else.
//
// So under Helm 4, a run that fails answers with exit 0 and a single document
// that Helm refuses, in a way that puts sidecarize's message into Helm's own
// error: Helm 4 names each post-rendered document after its
// postrenderer.helm.sh/postrender-filename annotation, and reports a document
// whose kind is not a string as "YAML parse error on <that name>: …" (its
// own reading of metadata, kyaml's, passes it).
// The user reads
//
//	Error: … YAML parse error on sidecarize failed: app.yaml[1]: Deployment api: …
//
// and Helm stops before anything is installed or printed. The message also
// goes to stderr as usual (Helm 4 drops it; Helm 3 and a terminal show it).
// Helm 3 runs the post-renderer as a plain executable and prints its stderr,
// so it never takes this path.

// helmFilenameAnnotation is Helm 4's record of which template a document
// came from; it names the document in Helm's errors.
const helmFilenameAnnotation = "postrenderer.helm.sh/postrender-filename"

// underHelm4 reports whether sidecarize runs as a Helm 4 plugin: Helm sets
// these for the plugin's process, and only Helm 4 runs post-renderer plugins.
func underHelm4() bool {
	return os.Getenv("HELM_PLUGIN_NAME") != "" && os.Getenv("HELM_PLUGIN_DIR") != ""
}

// runUnderHelm4 runs the command line; on failure its output is replaced by
// the error document and the exit code is 0, so that Helm 4 shows the error.
func runUnderHelm4(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var out, errs bytes.Buffer
	code := run(args, stdin, &out, io.MultiWriter(stderr, &errs))
	if code == exitOK {
		_, err := stdout.Write(out.Bytes())
		if err != nil {
			return exitError
		}
		return exitOK
	}
	msg := helmErrorMessage(errs.String())
	doc, err := helmErrorDocument(msg)
	if err != nil {
		return code
	}
	if _, err := stdout.Write(doc); err != nil {
		return code
	}
	return exitOK
}

// helmErrorMessage is what sidecarize printed on stderr, without the
// per-workload report lines and the "sidecarize: " prefixes.
func helmErrorMessage(stderr string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "sidecarize: ")
		if l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return "failed (no message)"
	}
	return strings.Join(lines, "\n")
}

// helmErrorDocument is the document Helm 4 refuses with msg in its error.
func helmErrorDocument(msg string) ([]byte, error) {
	n, err := yaml.Parse("apiVersion: v1\nkind: {sidecarize: error}\nmetadata:\n  name: sidecarize-error\n")
	if err != nil {
		return nil, err
	}
	name := "sidecarize failed: " + msg + "\n(sidecarize's error, passed through Helm's YAML check because Helm 4 hides a post-renderer's stderr)"
	if err := n.PipeE(yaml.SetAnnotation(helmFilenameAnnotation, name)); err != nil {
		return nil, err
	}
	s, err := n.String()
	if err != nil {
		return nil, err
	}
	return []byte(fmt.Sprintf("# %s\n%s", "sidecarize failed under Helm 4: see the annotation", s)), nil
}
