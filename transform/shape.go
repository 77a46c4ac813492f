package transform

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Shape checks. kyaml's getters (GetName, GetLabels, Lookup …) assume the
// shape of a Kubernetes object: a mapping where a mapping belongs. Given a
// sequence instead they index past the end and panic. Every parsed document
// is therefore checked once, before any getter runs, for the fields the
// engine reads; so the getters stay simple and a wrong shape is an error
// naming the file, the document, the object and the field path:
//
//	app.yaml[2]: Deployment web: metadata.labels: expected a mapping, got a list (line 7)
//
// The same pass refuses what the API server's strict decoding refuses and
// the engine could get wrong: a key given twice (kubectl keeps the last, the
// engine would edit the first). Aliases (*x) are expanded in place, so an
// edit never lands in a node shared with another part of the document, and
// merge keys (<<), which kyaml's getters do not follow, are replaced by the
// fields they merge, as kubectl reads them.

// shapeError is a wrong shape at a field path.
type shapeError struct {
	path string
	line int
	msg  string
}

// objectShape checks a parsed object (a document or a List item); obj names
// its position for errors ("app.yaml[0]"), line0 is the file line of the
// document's first line: the nodes' lines are made file lines.
func objectShape(where string, line0 int, n *yaml.Node) error {
	if line0 > 1 {
		shiftLines(n, line0-1)
	}
	if err := expandAliases(n); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if se := checkKeys(n, ""); se != nil {
		return shapeErr(where, n, se)
	}
	if se := resolveMerges(n, ""); se != nil {
		return shapeErr(where, n, se)
	}
	if se := objectFields(n, ""); se != nil {
		return shapeErr(where, n, se)
	}
	if se := kindFields(n); se != nil {
		return shapeErr(where, n, se)
	}
	if kindOf(n) == "List" || strings.HasSuffix(kindOf(n), "List") && field(n, "items") != nil {
		items := field(n, "items")
		if items == nil || isNull(items) {
			return nil
		}
		if items.Kind != yaml.SequenceNode {
			return shapeErr(where, n, &shapeError{"items", items.Line, "expected a sequence of objects, got " + nodeKind(items)})
		}
		for i, it := range items.Content {
			iw := fmt.Sprintf("%s.items[%d]", where, i)
			if it.Kind != yaml.MappingNode {
				return shapeErr(where, n, &shapeError{fmt.Sprintf("items[%d]", i), it.Line, "expected an object (a mapping), got " + nodeKind(it)})
			}
			if se := objectFields(it, ""); se != nil {
				return shapeErr(iw, it, se)
			}
			if se := kindFields(it); se != nil {
				return shapeErr(iw, it, se)
			}
		}
	}
	return nil
}

// kindFields checks fields of the kinds the engine decodes whose values
// a typed decode reports poorly.
func kindFields(n *yaml.Node) *shapeError {
	if kindOf(n) == "Service" {
		return servicePortNumbers(n)
	}
	return nil
}

// templateShape checks the metadata of a pod template (the part of it the
// engine reads with getters; its spec is decoded into the typed PodSpec).
func templateShape(tmpl *yaml.Node, path string) error {
	if tmpl.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: expected a mapping, got %s (line %d)", path, nodeKind(tmpl), tmpl.Line)
	}
	if se := metadataShape(tmpl, path+"."); se != nil {
		return fmt.Errorf("%s: %s (line %d)", se.path, se.msg, se.line)
	}
	spec := field(tmpl, "spec")
	if spec != nil && !isNull(spec) && spec.Kind != yaml.MappingNode {
		return fmt.Errorf("%sspec: expected a mapping, got %s (line %d)", path+".", nodeKind(spec), spec.Line)
	}
	return uniqueNames(spec, path+".spec")
}

// uniqueNames checks the lists of a pod spec that are merged and edited by
// name: two containers, volumes, env vars or ports of a container of one
// name make "the one named x" ambiguous (the API server refuses most;
// of two env vars it keeps the last, while edits find the first).
func uniqueNames(spec *yaml.Node, path string) error {
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil
	}
	containers := map[string]int{}
	for _, list := range []string{"initContainers", "containers", "volumes"} {
		seq := field(spec, list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue // the typed decode reports the shape
		}
		seen := containers
		if list == "volumes" {
			seen = map[string]int{}
		}
		if err := noNullItems(seq, func() string { return path + "." + list }); err != nil {
			return err
		}
		for ci, item := range seq.Content {
			if err := once(seen, scalarField(item, "name"), item, func() string { return path + "." + list }, "name"); err != nil {
				return err
			}
			if list == "volumes" {
				continue
			}
			for _, sub := range []string{"env", "envFrom", "ports", "volumeMounts", "volumeDevices"} {
				if err := noNullItems(field(item, sub), func() string { return fmt.Sprintf("%s.%s[%d].%s", path, list, ci, sub) }); err != nil {
					return err
				}
			}
			where := func(sub string) func() string {
				return func() string { return fmt.Sprintf("%s.%s[name=%s].%s", path, list, scalarField(item, "name"), sub) }
			}
			env := map[string]int{}
			if e := field(item, "env"); e != nil && e.Kind == yaml.SequenceNode {
				for _, v := range e.Content {
					if err := once(env, scalarField(v, "name"), v, where("env"), "name"); err != nil {
						return err
					}
				}
			}
			if ps := field(item, "ports"); ps != nil && ps.Kind == yaml.SequenceNode {
				portNames := map[string]int{}
				for pi, p := range ps.Content {
					if err := once(portNames, scalarField(p, "name"), p, where("ports"), "port name"); err != nil {
						return err
					}
					if se := portNumbers(p, func() string { return fmt.Sprintf("%s.%s[%d].ports[%d]", path, list, ci, pi) }, "containerPort", "hostPort"); se != nil {
						return fmt.Errorf("%s: %s (line %d)", se.path, se.msg, se.line)
					}
				}
			}
		}
	}
	return nil
}

// portNumbers checks the number fields of a port entry: a number no
// integer type holds (1e23, 99999999999999999999) or with a fraction is
// not a port. (The typed decode would fail on it with a message that names
// neither the entry nor the range; smaller numbers are checked there.)
func portNumbers(entry *yaml.Node, path func() string, fields ...string) *shapeError {
	for _, f := range fields {
		v := field(entry, f)
		if v == nil || v.Kind != yaml.ScalarNode || v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			continue
		}
		switch v.ShortTag() {
		case yaml.NodeTagInt:
			if _, err := strconv.ParseInt(v.Value, 0, 32); err == nil {
				continue
			}
		case yaml.NodeTagFloat:
			if x, err := strconv.ParseFloat(v.Value, 64); err == nil && x == math.Trunc(x) && math.Abs(x) < math.MaxInt32 {
				continue
			}
		default:
			continue
		}
		return &shapeError{path() + "." + f, v.Line, v.Value + ": not a port (1 to 65535)"}
	}
	return nil
}

// servicePortNumbers checks a Service's spec.ports (see portNumbers).
func servicePortNumbers(n *yaml.Node) *shapeError {
	ps := field(field(n, "spec"), "ports")
	if ps == nil || ps.Kind != yaml.SequenceNode {
		return nil
	}
	for i, p := range ps.Content {
		if isNull(p) {
			return &shapeError{fmt.Sprintf("spec.ports[%d]", i), p.Line, "expected an object, got null"}
		}
		if se := portNumbers(p, func() string { return fmt.Sprintf("spec.ports[%d]", i) }, "port", "targetPort", "nodePort"); se != nil {
			return se
		}
	}
	return nil
}

// noNullItems: an entry of a list of objects that is null would be read by
// kubectl as an empty object (a mount without a name, a port 0), which the
// API server refuses; the engine would merge and edit it. An error.
func noNullItems(seq *yaml.Node, path func() string) error {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	for i, it := range seq.Content {
		if isNull(it) {
			return fmt.Errorf("%s[%d]: expected an object, got null (line %d)", path(), i, it.Line)
		}
	}
	return nil
}

// once records name at n's line; a name seen before is an error.
func once(seen map[string]int, name string, n *yaml.Node, path func() string, what string) error {
	if name == "" {
		return nil
	}
	if line, ok := seen[name]; ok {
		return fmt.Errorf("%s: %s %q twice (lines %d and %d): entries are edited and merged by name", path(), what, name, line, n.Line)
	}
	seen[name] = n.Line
	return nil
}

func shapeErr(where string, obj *yaml.Node, se *shapeError) error {
	what := kindOf(obj)
	if name := scalarField(field(obj, "metadata"), "name"); name != "" {
		what += " " + name
	}
	if what != "" {
		what += ": "
	}
	if se.line == 0 { // a duplicate key: the message has the lines
		return fmt.Errorf("%s: %s%s: %s: kubectl's strict decoding refuses it, and the edits would land in the copy kubectl drops", where, what, se.path, se.msg)
	}
	return fmt.Errorf("%s: %s%s: %s (line %d)", where, what, se.path, se.msg, se.line)
}

// objectFields checks the top-level fields of an object: apiVersion and
// kind are strings, an object with a kind has an apiVersion, metadata is a
// mapping of the right shape.
func objectFields(n *yaml.Node, prefix string) *shapeError {
	for _, f := range []string{"apiVersion", "kind"} {
		if v := field(n, f); v != nil && v.Kind != yaml.ScalarNode {
			return &shapeError{prefix + f, v.Line, "expected a string, got " + nodeKind(v)}
		}
	}
	if k := field(n, "kind"); k != nil && k.Value != "" {
		if v := field(n, "apiVersion"); v == nil || v.Value == "" {
			line := k.Line
			return &shapeError{prefix + "apiVersion", line, "required (kind " + k.Value + " without an apiVersion is not a Kubernetes object)"}
		}
	}
	return metadataShape(n, prefix)
}

// metadataShape checks metadata: a mapping; name, namespace and
// generateName strings; labels and annotations mappings of strings.
func metadataShape(n *yaml.Node, prefix string) *shapeError {
	md := field(n, "metadata")
	if md == nil || isNull(md) {
		return nil
	}
	if md.Kind != yaml.MappingNode {
		return &shapeError{prefix + "metadata", md.Line, "expected a mapping, got " + nodeKind(md)}
	}
	for _, f := range []string{"name", "namespace", "generateName"} {
		if v := field(md, f); v != nil && v.Kind != yaml.ScalarNode {
			return &shapeError{prefix + "metadata." + f, v.Line, "expected a string, got " + nodeKind(v)}
		}
	}
	for _, f := range []string{"labels", "annotations"} {
		m := field(md, f)
		if m == nil || isNull(m) {
			continue
		}
		p := prefix + "metadata." + f
		if m.Kind != yaml.MappingNode {
			return &shapeError{p, m.Line, "expected a mapping, got " + nodeKind(m)}
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return &shapeError{p, k.Line, "a key is " + nodeKind(k) + ", not a string"}
			}
			if v.Kind != yaml.ScalarNode {
				return &shapeError{p + "." + k.Value, v.Line, "expected a string, got " + nodeKind(v)}
			}
			if what := notString(v); what != "" {
				return &shapeError{fmt.Sprintf("%s[%q]", p, k.Value), v.Line,
					fmt.Sprintf("expected a string, got %s %s: quote it (kubectl refuses %s value that is not a string)", what, v.Value, map[string]string{"labels": "a label", "annotations": "an annotation"}[f])}
			}
		}
	}
	return nil
}

// notString names the type kubectl's YAML reader (YAML 1.1) gives an
// unquoted scalar that is not a string — "a number", "a boolean" (true, but
// also yes, on, y …) — or "" for a string or null. Label and annotation
// values must be strings: kubectl refuses the object.
func notString(v *yaml.Node) string {
	if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 {
		return ""
	}
	switch v.ShortTag() {
	case yaml.NodeTagInt, yaml.NodeTagFloat:
		return "a number"
	case yaml.NodeTagBool:
		return "a boolean"
	case yaml.NodeTagString:
		switch v.Value {
		case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF":
			return "a boolean"
		}
	}
	return ""
}

// checkKeys walks the tree: no key twice in a mapping, no merge keys, no
// mapping with an odd number of nodes. The error's path is put together
// only when there is an error (keyError), not for every field.
func checkKeys(n *yaml.Node, path string) *shapeError {
	ke := keyErrors(n)
	if ke == nil {
		return nil
	}
	for i := len(ke.rev) - 1; i >= 0; i-- {
		if seg := ke.rev[i]; seg.key != nil {
			path = join(path, *seg.key)
		} else {
			path = fmt.Sprintf("%s[%d]", path, seg.index)
		}
	}
	ke.err.path = orRoot(path)
	return &ke.err
}

// keyError is checkKeys' error with its path as segments, innermost first.
type keyError struct {
	err shapeError
	rev []pathSeg
}

// pathSeg is a mapping key, or (key nil) a sequence index.
type pathSeg struct {
	key   *string
	index int
}

func keyErrors(n *yaml.Node) *keyError {
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content)%2 != 0 {
			return &keyError{err: shapeError{"", n.Line, "malformed mapping"}}
		}
		var seen map[string]*yaml.Node
		for i := 0; i < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				continue // not a Kubernetes field; passed through as it is
			}
			var prev *yaml.Node
			if len(n.Content) <= 32 {
				for j := 0; j < i; j += 2 {
					if pk := n.Content[j]; pk.Kind == yaml.ScalarNode && pk.Value == k.Value {
						prev = pk
						break
					}
				}
			} else {
				if seen == nil {
					seen = make(map[string]*yaml.Node, len(n.Content)/2)
				}
				prev = seen[k.Value]
				if prev == nil {
					seen[k.Value] = k
				}
			}
			if prev != nil {
				return &keyError{err: shapeError{"", 0,
					fmt.Sprintf("duplicate key %q (lines %d and %d)", k.Value, prev.Line, k.Line)}}
			}
			if ke := keyErrors(n.Content[i+1]); ke != nil {
				ke.rev = append(ke.rev, pathSeg{key: &k.Value})
				return ke
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if ke := keyErrors(c); ke != nil {
				ke.rev = append(ke.rev, pathSeg{index: i})
				return ke
			}
		}
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if ke := keyErrors(c); ke != nil {
				return ke
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

// shiftLines makes node lines file lines: a document's nodes are numbered
// from its own first line.
func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// ResolveAnchors expands the aliases and merge keys of a parsed document in
// place, as the engine does before it reads a document: the tree that
// results is what kubectl reads (tests compare documents so).
func ResolveAnchors(n *yaml.Node) error {
	if err := expandAliases(n); err != nil {
		return err
	}
	if se := resolveMerges(n, ""); se != nil {
		return fmt.Errorf("%s: %s (line %d)", orRoot(se.path), se.msg, se.line)
	}
	return nil
}

// isMergeKey: is k a merge key (a plain <<, not a quoted "<<" string)?
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge"
}

// resolveMerges replaces every merge key (<<: *base, <<: [*a, *b], <<: {…})
// by the fields it merges, in place, as kubectl's reader (sigs.k8s.io/yaml)
// does: the mapping's own fields win over merged ones, and of several merged
// mappings the first that has a field gives it. Aliases are already
// expanded, so the merged nodes are copies. A field written before the merge
// key that also merges it is an error: kubectl then applies the merged value,
// while YAML 1.2 readers (kustomize, yq) keep the written one.
func resolveMerges(n *yaml.Node, path string) *shapeError {
	if !hasMergeKey(n) {
		return nil // most documents: no path built, no node visited twice
	}
	return resolveMergesIn(n, path)
}

// hasMergeKey reports a merge key anywhere in the tree.
func hasMergeKey(n *yaml.Node) bool {
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && isMergeKey(c) || hasMergeKey(c) {
			return true
		}
	}
	return false
}

func resolveMergesIn(n *yaml.Node, path string) *shapeError {
	for i, c := range n.Content {
		p := path
		if n.Kind == yaml.MappingNode && i%2 == 1 {
			p = join(path, n.Content[i-1].Value)
		} else if n.Kind == yaml.SequenceNode {
			p = fmt.Sprintf("%s[%d]", path, i)
		}
		if se := resolveMergesIn(c, p); se != nil {
			return se
		}
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	own := map[string]int{} // the mapping's own fields, by position
	merges := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; isMergeKey(k) {
			merges = true
		} else if k.Kind == yaml.ScalarNode {
			own[k.Value] = i
		}
	}
	if !merges {
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			out = append(out, k, v)
			continue
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		taken := map[string]bool{}
		for _, src := range sources {
			if src.Kind != yaml.MappingNode {
				return &shapeError{join(path, "<<"), src.Line, "a merge key takes a mapping or a list of mappings, got " + nodeKind(src)}
			}
			for j := 0; j+1 < len(src.Content); j += 2 {
				sk := src.Content[j]
				if taken[sk.Value] {
					continue
				}
				taken[sk.Value] = true
				if at, ok := own[sk.Value]; ok {
					if at < i {
						return &shapeError{join(path, sk.Value), n.Content[at].Line,
							fmt.Sprintf("set before the merge key on line %d, which merges it too: kubectl would apply the merged value, other YAML readers this one; write the merge key first", k.Line)}
					}
					continue
				}
				out = append(out, sk, src.Content[j+1])
			}
		}
	}
	n.Content = out
	return nil
}

// maxExpanded bounds alias expansion: a few aliases that each repeat a
// large subtree ("billion laughs") are refused, not expanded.
const maxExpanded = 100000

// expandAliases replaces every alias with a copy of its anchored node, so
// that the tree is a tree: an edit made through one path cannot change
// another, and getters never meet an alias node.
func expandAliases(n *yaml.Node) error {
	if !hasAlias(n) {
		return nil
	}
	budget := maxExpanded
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		for i, c := range n.Content {
			if c.Kind == yaml.AliasNode {
				if c.Alias == nil {
					return fmt.Errorf("alias *%s: no such anchor", c.Value)
				}
				k, err := size(c.Alias, budget, map[*yaml.Node]bool{c.Alias: true})
				if err != nil {
					return fmt.Errorf("alias *%s: %w", c.Value, err)
				}
				if budget -= k; budget < 0 {
					return fmt.Errorf("aliases expand to more than %d nodes", maxExpanded)
				}
				cp := yaml.CopyYNode(c.Alias)
				cp.Anchor = ""
				// The copy keeps the alias's place and its comments, not the
				// anchor's (FuzzStructure: the document's head comment, on an
				// anchored key, was copied under the alias and lost next run).
				cp.HeadComment, cp.LineComment, cp.FootComment = c.HeadComment, c.LineComment, c.FootComment
				n.Content[i] = cp
				c = cp
			}
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(n); err != nil {
		return err
	}
	clearAnchors(n)
	return nil
}

func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

func clearAnchors(n *yaml.Node) {
	n.Anchor = ""
	for _, c := range n.Content {
		clearAnchors(c)
	}
}

// size counts the nodes of a tree, aliases as the nodes they stand for,
// stopping past max; an alias inside the node it names (a cycle) is an
// error. expanding holds the anchored nodes being counted.
func size(n *yaml.Node, max int, expanding map[*yaml.Node]bool) (int, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if expanding[n.Alias] {
			return 0, fmt.Errorf("the alias is inside the node it names")
		}
		expanding[n.Alias] = true
		defer delete(expanding, n.Alias)
		return size(n.Alias, max, expanding)
	}
	s := 1
	for _, c := range n.Content {
		k, err := size(c, max-s, expanding)
		if err != nil {
			return 0, err
		}
		if s += k; s > max {
			return s, nil
		}
	}
	return s, nil
}

// field returns the value of key in a mapping node, nil when absent or when
// n is not a mapping. It never indexes past the end.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// scalarField is the string value of key, "" unless it is a scalar.
func scalarField(n *yaml.Node, key string) string {
	if v := field(n, key); v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
		return v.Value
	}
	return ""
}

// objectNode is the content of a document node.
func objectNode(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0]
	}
	return n
}

func kindOf(n *yaml.Node) string { return scalarField(n, "kind") }

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == yaml.NodeTagNull || n.Tag == "" && (n.Value == "" || n.Value == "null" || n.Value == "~"))
}

// nodeKind names a node's kind for messages.
func nodeKind(n *yaml.Node) string {
	if isNull(n) {
		return "null"
	}
	return kindName(n.Kind)
}
