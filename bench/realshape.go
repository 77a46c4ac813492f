package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
)

// realSources are published release manifests, from the Go modules the e2e
// corpus also reads (e2e/corpus_test.go), at the same versions.
var realSources = []struct {
	module string
	files  []string // globs in the module directory
}{
	{"github.com/argoproj/argo-rollouts@v1.10.1", []string{"manifests/dashboard-install.yaml"}},
	{"k8s.io/kube-state-metrics/v2@v2.13.0", []string{"examples/standard/*.yaml"}},
}

var (
	kindLine    = regexp.MustCompile(`(?m)^kind: *(\S+)`)
	nsLine      = regexp.MustCompile(`(?m)^  namespace: .*$`)
	metaLine    = regexp.MustCompile(`(?m)^metadata:\r?\n`)
	clusterWide = map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true, "Namespace": true}
	workloads   = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true}
)

// RealShape builds a stream of real manifests as published (comments,
// field order, quoting and all), repeated in namespaces app-0, app-1, …
// until it holds at least n workloads. Cluster-scoped objects (ClusterRoles
// and their bindings) come once, as they would in one cluster. It returns
// the stream, the number of workloads in it and of copies.
func RealShape(n int) ([]byte, int, int, error) {
	var docs [][]byte
	perCopy := 0
	for _, src := range realSources {
		dir, err := downloadModule(src.module)
		if err != nil {
			return nil, 0, 0, err
		}
		for _, g := range src.files {
			files, err := filepath.Glob(filepath.Join(dir, g))
			if err != nil || len(files) == 0 {
				return nil, 0, 0, fmt.Errorf("%s: %s: no files (%v)", src.module, g, err)
			}
			sort.Strings(files)
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, 0, 0, err
				}
				for _, d := range bytes.Split(b, []byte("\n---\n")) {
					if m := kindLine.FindSubmatch(d); m != nil {
						docs = append(docs, bytes.TrimRight(d, "\n"))
						if workloads[string(m[1])] {
							perCopy++
						}
					}
				}
			}
		}
	}
	if perCopy == 0 {
		return nil, 0, 0, fmt.Errorf("no workloads in %v", realSources)
	}
	var out bytes.Buffer
	copies := (n + perCopy - 1) / perCopy
	for c := 0; c < copies; c++ {
		ns := fmt.Sprintf("  namespace: app-%d", c)
		for _, d := range docs {
			if clusterWide[string(kindLine.FindSubmatch(d)[1])] {
				if c > 0 {
					continue
				}
			} else if nsLine.Match(d) {
				d = nsLine.ReplaceAll(d, []byte(ns))
			} else {
				d = metaLine.ReplaceAll(d, []byte("metadata:\n"+ns+"\n"))
			}
			out.Write(d)
			out.WriteString("\n---\n")
		}
	}
	return out.Bytes(), copies * perCopy, copies, nil
}

// downloadModule fetches a module with `go mod download` (from the module
// cache when it is there) and returns its directory.
func downloadModule(mod string) (string, error) {
	tmp, err := os.MkdirTemp("", "bench-moddl-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || info.Error != "" || err != nil {
		return "", fmt.Errorf("go mod download %s: %v %s %s", mod, err, info.Error, out)
	}
	return info.Dir, nil
}
