package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

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
//
// The command line's configuration applies too, as in the other front ends:
// -p, --set, the selection flags, --native-sidecars and --kube-version are
// the lowest layer; -c (or SIDECARIZE_CONFIG) gives the config when the
// ResourceList has no functionConfig. Both a functionConfig and -c (or
// SIDECARIZE_CONFIG) is an error: which one was meant cannot be guessed.
//
// The ResourceList is checked before anything runs: it must be the only
// document on stdin, items a sequence of objects, functionConfig an object.
// `sidecarize uninject` with a ResourceList on stdin uninjects its items.
func runKRM(c *cli.Context, in io.Reader, out io.Writer, uninject bool) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return exitErr{exitError, err}
	}
	hasFC, err := checkResourceList(data)
	if err != nil {
		return exitErr{exitError, err}
	}
	all := patterns.All()
	e := &transform.Engine{Patterns: all, Uninject: uninject, Version: version()}
	if err := setFlags(c, e, all); err != nil {
		return err
	}
	if cfg := c.String("config"); cfg != "" {
		if hasFC {
			src := "-c/--config"
			if !explicitConfig(c) {
				src = "SIDECARIZE_CONFIG"
			}
			return exitErr{exitError, fmt.Errorf("the ResourceList's functionConfig and %s both give a config (%s): give one", src, cfg)}
		}
		conf, err := loadConfigFile(cfg, all)
		if err != nil {
			return exitErr{exitError, err}
		}
		e.Config = conf
	}
	rw := &kio.ByteReadWriter{Reader: bytes.NewReader(data), Writer: out, KeepReaderAnnotations: true}
	err = framework.Execute(framework.ResourceListProcessorFunc(func(rl *framework.ResourceList) error {
		return processResourceList(e, rl)
	}), rw)
	if err != nil {
		return exitErr{exitError, fmt.Errorf("KRM function: %w", err)}
	}
	return nil
}

// explicitConfig reports whether -c/--config was on the command line (and
// not only SIDECARIZE_CONFIG in the environment).
func explicitConfig(c *cli.Context) bool {
	b, _ := c.App.Metadata["configFlag"].(bool)
	return b
}

// checkResourceList checks the shape of a ResourceList on stdin and says
// whether it has a functionConfig.
func checkResourceList(data []byte) (bool, error) {
	var docs []*transform.Doc
	for _, d := range transform.SplitStream("<stdin>", data) {
		if !d.Empty() {
			docs = append(docs, d)
		}
	}
	if len(docs) != 1 {
		return false, fmt.Errorf("<stdin>: a ResourceList must be the only document (found %d)", len(docs))
	}
	d := docs[0]
	n, err := d.Node()
	if err != nil {
		return false, err
	}
	if n == nil || n.GetKind() != "ResourceList" {
		return false, fmt.Errorf("%s: expected a ResourceList", d.Where())
	}
	if items := n.Field("items"); items != nil && !isNull(items.Value) {
		if items.Value.YNode().Kind != yaml.SequenceNode {
			return false, fmt.Errorf("%s: ResourceList: items: expected a sequence of objects, got %s", d.Where(), nodeKind(items.Value))
		}
		for i, it := range items.Value.Content() {
			if it.Kind != yaml.MappingNode {
				return false, fmt.Errorf("%s: ResourceList: items[%d]: expected an object (a mapping), got %s", d.Where(), i, nodeKind(yaml.NewRNode(it)))
			}
		}
	}
	fc := n.Field("functionConfig")
	if fc == nil || isNull(fc.Value) {
		return false, nil
	}
	if fc.Value.YNode().Kind != yaml.MappingNode {
		return false, fmt.Errorf("%s: ResourceList: functionConfig: expected an object (a mapping), got %s", d.Where(), nodeKind(fc.Value))
	}
	// A ConfigMap gives the flags' layer, not a config: it goes with -c.
	return fc.Value.GetKind() != "" && fc.Value.GetKind() != "ConfigMap", nil
}

func isNull(n *yaml.RNode) bool {
	return n == nil || n.YNode() == nil || (n.YNode().Kind == yaml.ScalarNode && n.YNode().Tag == yaml.NodeTagNull)
}

func nodeKind(n *yaml.RNode) string {
	switch n.YNode().Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func processResourceList(e *transform.Engine, rl *framework.ResourceList) error {
	if fc := rl.FunctionConfig; fc != nil && fc.GetKind() == "ConfigMap" && fc.GetApiVersion() == "v1" {
		// kpt's `-- key=value`: the flags' layer (krmconfigmap.go).
		if err := applyConfigMap(e, fc); err != nil {
			rl.Results = append(rl.Results, &framework.Result{Message: err.Error(), Severity: framework.Error})
			return rl.Results
		}
	} else if fc != nil && fc.GetKind() != "" {
		s, err := fc.String()
		if err != nil {
			return err
		}
		cfg, err := transform.LoadConfig("functionConfig", []byte(s), e.Patterns)
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
