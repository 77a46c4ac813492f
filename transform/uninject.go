package transform

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// uninjectWorkload removes what the status says was injected, restoring the
// pod template exactly: helper containers and volumes, edits to the app's
// containers (in reverse order), the annotations, and fields sidecarize
// created.
func uninjectWorkload(w *Workload, st *Status) error {
	w.podSpec = nil // the pod changes under the cached decode
	for _, list := range []struct {
		field string
		names []string
	}{{"containers", st.Containers}, {"initContainers", st.InitContainers}, {"volumes", st.Volumes}} {
		for _, name := range list.names {
			if err := w.spec.PipeE(yaml.Lookup(list.field), yaml.ElementSetter{Keys: []string{"name"}, Values: []string{name}}); err != nil {
				return err
			}
		}
	}
	for i := len(st.Edits) - 1; i >= 0; i-- {
		if err := undoEdit(w, st.Edits[i]); err != nil {
			return fmt.Errorf("edits[%d]: %w", i, err)
		}
	}
	if err := w.removeStatus(st); err != nil {
		return err
	}
	for _, f := range []string{"initContainers", "volumes", "containers"} {
		if err := restoreShape(w.spec, f, st.Created); err != nil {
			return err
		}
	}
	if md := w.tmpl.Field("metadata"); md != nil {
		if contains(st.Created, "metadata") && len(md.Value.Content()) == 0 {
			if _, err := w.tmpl.Pipe(yaml.Clear("metadata")); err != nil {
				return err
			}
		}
	}
	return nil
}

func undoEdit(w *Workload, e Edit) error {
	if e.Op == EditAnnotation {
		if e.Old == nil {
			return removeMetaKeys(w.tmpl, "annotations", []string{e.Name}, false)
		}
		return setMetaKey(w.tmpl, "annotations", e.Name, *e.Old)
	}
	c, err := w.container(e.Container)
	if err != nil {
		return err
	}
	switch e.Op {
	case EditMount:
		return removeFromList(c, "volumeMounts", e.Name, e.Created)
	case EditEnv:
		if e.Old == nil {
			return removeFromList(c, "env", e.Name, e.Created)
		}
		env, err := c.Pipe(yaml.Lookup("env"), yaml.MatchElement("name", e.Name))
		if err != nil || env == nil {
			return fmt.Errorf("container %q: env %s is gone", e.Container, e.Name)
		}
		return setScalar(env, "value", yaml.NewStringRNode(*e.Old))
	case EditArg:
		args := c.Field("args")
		if args == nil || e.Index >= len(args.Value.YNode().Content) || e.Old == nil {
			return fmt.Errorf("container %q: args[%d] is gone", e.Container, e.Index)
		}
		n := args.Value.YNode().Content[e.Index]
		n.Value = *e.Old
		return nil
	}
	return fmt.Errorf("unknown edit %q", e.Op)
}

func removeFromList(c *yaml.RNode, field, name string, created bool) error {
	if err := c.PipeE(yaml.Lookup(field), yaml.ElementSetter{Keys: []string{"name"}, Values: []string{name}}); err != nil {
		return err
	}
	if f := c.Field(field); created && f != nil && len(f.Value.Content()) == 0 {
		_, err := c.Pipe(yaml.Clear(field))
		return err
	}
	return nil
}
