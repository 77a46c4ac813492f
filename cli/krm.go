package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// isResourceList reports whether stdin holds a KRM ResourceList.
func isResourceList(data []byte) bool {
	docs := transform.SplitStream("<stdin>", data)
	if len(docs) == 0 {
		return false
	}
	return docs[0].Kind() == "ResourceList"
}

// runKRM answers a ResourceList (KRM functions spec): the functionConfig is a
// Sidecarize config; items run through the same engine as the CLI; the
// report becomes results.
func runKRM(in io.Reader, out io.Writer) error {
	rw := &kio.ByteReadWriter{Reader: in, Writer: out, KeepReaderAnnotations: true}
	err := framework.Execute(framework.ResourceListProcessorFunc(processResourceList), rw)
	if err != nil {
		return exitErr{exitError, fmt.Errorf("KRM function: %w", err)}
	}
	return nil
}

func processResourceList(rl *framework.ResourceList) error {
	all := patterns.All()
	e := &transform.Engine{Patterns: all, Version: Version}
	if fc := rl.FunctionConfig; fc != nil && fc.GetKind() != "" {
		s, err := fc.String()
		if err != nil {
			return err
		}
		cfg, err := transform.LoadConfig("functionConfig", []byte(s), all)
		if err != nil {
			rl.Results = append(rl.Results, &framework.Result{Message: err.Error(), Severity: framework.Error})
			return rl.Results
		}
		e.Config = cfg
	}
	var buf bytes.Buffer
	if err := (kio.ByteWriter{Writer: &buf, KeepReaderAnnotations: true}).Write(rl.Items); err != nil {
		return err
	}
	outBytes, rep, err := e.Process("items", buf.Bytes())
	if err != nil {
		rl.Results = append(rl.Results, &framework.Result{Message: err.Error(), Severity: framework.Error})
		return rl.Results
	}
	items, err := (&kio.ByteReader{Reader: bytes.NewReader(outBytes), OmitReaderAnnotations: true}).Read()
	if err != nil {
		return err
	}
	rl.Items = items
	rl.Results = append(rl.Results, results(rep)...)
	return nil
}

func results(rep *transform.Report) framework.Results {
	var out framework.Results
	for _, w := range rep.Workloads {
		ref := &yaml.ResourceIdentifier{TypeMeta: yaml.TypeMeta{Kind: w.Kind}, NameMeta: yaml.NameMeta{Name: w.Name, Namespace: w.Namespace}}
		msg := string(w.Action)
		if len(w.Patterns) > 0 {
			msg += ": " + fmt.Sprint(w.Patterns)
		}
		if w.Reason != "" {
			msg += " (" + string(w.Reason) + ")"
		}
		var field *framework.Field
		if w.Field != "" {
			field = &framework.Field{Path: w.Field}
		}
		out = append(out, &framework.Result{Message: msg, Severity: framework.Info, ResourceRef: ref, Field: field})
		for _, m := range w.Warnings {
			out = append(out, &framework.Result{Message: m, Severity: framework.Warning, ResourceRef: ref, Field: field})
		}
	}
	for _, m := range rep.Warnings {
		kind, name, _ := strings.Cut(m.Object, " ")
		res := &framework.Result{Message: m.Message, Severity: framework.Warning}
		if name != "" {
			ns, n, ok := strings.Cut(name, "/")
			if !ok {
				ns, n = "", name
			}
			res.ResourceRef = &yaml.ResourceIdentifier{TypeMeta: yaml.TypeMeta{Kind: kind}, NameMeta: yaml.NameMeta{Name: n, Namespace: ns}}
		}
		if m.Field != "" {
			res.Field = &framework.Field{Path: m.Field}
		}
		out = append(out, res)
	}
	return out
}
