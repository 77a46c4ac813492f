package transform

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Byte splicing: a changed document keeps its original bytes and only the
// edits are written. The engine edits the parsed tree in place; splice walks
// the edited tree beside a copy of the tree as parsed (with its positions)
// and turns every difference into a byte edit of the source:
//
//   - a subtree equal to the original (same kinds, tags and values; styles
//     and comments aside) keeps its bytes, even when the engine rebuilt it
//     (so uninject gives back the input byte for byte);
//   - a mapping entry or sequence item that is new is inserted after the
//     last one kept, rendered in the document's own style (indentation
//     width, compact or wide sequences, the offset after "- ", flow where
//     the parent is flow, the line ending); one that is gone is cut out
//     with its line;
//   - a scalar that changed is replaced where it stands, in its original
//     quoting when that can hold the new value;
//   - a value that changed shape (an empty `{}` that opens, a block that
//     empties) is rewritten after its key's colon.
//
// A shape splice cannot place safely (anchors and aliases, a key before the
// first entry of a list item, reordered keys, a block scalar that keeps
// its trailing blank lines) returns an error: the document is then written
// by the emitter as before, and the report says so. With verifySplice the
// result is parsed again and compared with the edited tree; a mismatch is
// such an error too.

// verifySplice re-reads every spliced document and compares it with the
// edited tree (verify.go: test binaries, where a mismatch would show in
// reencoded.txt, and SIDECARIZE_VERIFY=1); off in normal runs, where
// parsing each changed document a second time cost a tenth of the CPU of a
// run (README "Benchmark").
var verifySplice = verify

// errSplice is a shape splice does not handle; the caller falls back.
type errSplice string

func (e errSplice) Error() string { return string(e) }

func unsafeSplice(format string, args ...any) error { return errSplice(fmt.Sprintf(format, args...)) }

// edit replaces src[start:end] with text (an insertion when start == end).
type edit struct {
	start, end int
	text       string
}

type splicer struct {
	src    []byte
	base   int   // node lines count from the file's first line: base is the document's first line less one
	lines  []int // offset of each line's first byte
	nl     string
	indent int         // mapping indentation width
	wide   bool        // a sequence under a key is indented (else at the key's column)
	wideAt map[int]int // the same, by the key's column: wide minus compact votes
	offset int         // columns from "-" to a list item's mapping
	edits  []edit
	buf    bytes.Buffer // where new lines are rendered (insertRun, value)
}

// splice returns src with the differences between orig (the tree parsed
// from src, its lines counted from line0) and cur (the same tree after the
// engine's edits) written in.
func splice(src []byte, line0 int, orig, cur *yaml.Node) ([]byte, error) {
	s := &splicer{src: src, nl: lineEnding(src), base: line0 - 1}
	s.lines = make([]int, 1, bytes.Count(src, []byte{'\n'})+1)
	for i := 0; ; {
		j := bytes.IndexByte(src[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		s.lines = append(s.lines, i)
	}
	if hasAnchors(orig) || hasAnchors(cur) {
		return nil, unsafeSplice("anchors or aliases")
	}
	s.style(orig)
	if err := s.node(cur, orig, 0, false); err != nil {
		return nil, err
	}
	out, err := s.apply()
	if err != nil {
		return nil, err
	}
	if !verifySplice {
		return out, nil
	}
	// The spliced bytes must read as the edited tree.
	var check yaml.Node
	if err := yaml.Unmarshal(out, &check); err != nil {
		return nil, unsafeSplice("the spliced document does not parse: %v", err)
	}
	if len(check.Content) != 1 || !equalNode(check.Content[0], cur) {
		return nil, unsafeSplice("the spliced document does not read as the edited one")
	}
	return out, nil
}

func (s *splicer) apply() ([]byte, error) {
	slices.SortStableFunc(s.edits, func(a, b edit) int {
		if a.start != b.start {
			return cmp.Compare(a.start, b.start)
		}
		return cmp.Compare(a.end-a.start, b.end-b.start) // insertions first
	})
	size := len(s.src)
	for _, e := range s.edits {
		size += len(e.text) - (e.end - e.start)
	}
	var out bytes.Buffer
	out.Grow(max(size, 0))
	at := 0
	for _, e := range s.edits {
		if e.start < at {
			return nil, unsafeSplice("overlapping edits")
		}
		out.Write(s.src[at:e.start])
		out.WriteString(e.text)
		at = e.end
	}
	out.Write(s.src[at:])
	return out.Bytes(), nil
}

func (s *splicer) add(start, end int, text string) {
	s.edits = append(s.edits, edit{start, end, text})
}

// style reads the document's indentation habits from its block collections.
func (s *splicer) style(n *yaml.Node) {
	var ind, off [10]int
	wide, compact := 0, 0
	s.wideAt = map[int]int{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle == 0 {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				vLine, vCol := s.at(v)
				if v.Style&yaml.FlowStyle != 0 || vLine == k.Line {
					continue
				}
				switch d := vCol - k.Column; {
				case v.Kind == yaml.MappingNode && d > 0 && d < len(ind):
					ind[d]++
				case v.Kind == yaml.SequenceNode && d == 0:
					compact++
					s.wideAt[k.Column-1]--
				case v.Kind == yaml.SequenceNode && d > 0:
					wide++
					s.wideAt[k.Column-1]++
				}
			}
		}
		if n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle == 0 {
			nLine, nCol := s.at(n)
			for _, c := range n.Content {
				if d := c.Column - nCol; c.Kind == yaml.MappingNode && c.Style&yaml.FlowStyle == 0 && c.Line == nLine && d > 0 && d < len(off) {
					off[d]++
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	most := func(h [10]int) int {
		best := 2
		for i := range h {
			if h[i] > h[best] {
				best = i
			}
		}
		return best
	}
	s.indent, s.offset, s.wide = most(ind), most(off), wide > compact
}

// at is where a block collection stands: its node's line and column, but
// for one with an explicit tag (items: !!seq), whose node stands at the
// tag, its first entry's (for a sequence, its first dash's).
func (s *splicer) at(n *yaml.Node) (line, col int) {
	if n.Style&yaml.TaggedStyle == 0 || n.Style&yaml.FlowStyle != 0 || len(n.Content) == 0 {
		return n.Line, n.Column
	}
	first := n.Content[0]
	if n.Kind != yaml.SequenceNode {
		return first.Line, first.Column
	}
	p := s.off(first)
	if p < 0 {
		return n.Line, n.Column
	}
	d := bytes.LastIndexByte(s.src[s.lineStart(p):p], '-')
	if d < 0 || !s.blankBefore(s.lineStart(p)+d) {
		return n.Line, n.Column
	}
	return first.Line, d + 1
}

// off is the byte offset of a node's line and column (columns count
// characters).
func (s *splicer) off(n *yaml.Node) int {
	line := n.Line - s.base
	if line < 1 || line > len(s.lines) {
		return -1
	}
	p := s.lines[line-1]
	for c := 1; c < n.Column && p < len(s.src); c++ {
		if s.src[p] < utf8.RuneSelf {
			p++
		} else {
			_, w := utf8.DecodeRune(s.src[p:])
			p += w
		}
	}
	return p
}

// lineStart is the offset of the start of p's line; lineAfter the offset
// after p's line's newline (or the end of the source).
func (s *splicer) lineStart(p int) int {
	return bytes.LastIndexByte(s.src[:p], '\n') + 1
}

func (s *splicer) lineAfter(p int) int {
	if i := bytes.IndexByte(s.src[p:], '\n'); i >= 0 {
		return p + i + 1
	}
	return len(s.src)
}

// blankBefore reports only spaces between p's line start and p.
func (s *splicer) blankBefore(p int) bool {
	return len(bytes.TrimLeft(s.src[s.lineStart(p):p], " ")) == 0
}

// start is a node's first byte past any tag; end the offset after its last
// byte (a line comment not included).
func (s *splicer) start(n *yaml.Node) (int, error) {
	p := s.off(n)
	if p < 0 {
		return 0, unsafeSplice("a node without a position")
	}
	if p < len(s.src) && s.src[p] == '!' {
		for p < len(s.src) && s.src[p] != ' ' && s.src[p] != '\n' {
			p++
		}
		for p < len(s.src) && s.src[p] == ' ' {
			p++
		}
	}
	return p, nil
}

// span is a node's start and end.
func (s *splicer) span(n *yaml.Node) (int, int, error) {
	a, err := s.start(n)
	if err != nil {
		return 0, 0, err
	}
	b, err := s.end(n)
	return a, b, err
}

func (s *splicer) end(n *yaml.Node) (int, error) {
	p, err := s.start(n)
	if err != nil {
		return 0, err
	}
	switch {
	case n.Kind == yaml.ScalarNode:
		return s.scalarEnd(n, p)
	case n.Style&yaml.FlowStyle != 0:
		return s.flowEnd(p)
	case len(n.Content) > 0:
		return s.end(n.Content[len(n.Content)-1])
	}
	return 0, unsafeSplice("an empty block collection")
}

func (s *splicer) scalarEnd(n *yaml.Node, p int) (int, error) {
	src := s.src
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := p + 1; i < len(src); i++ {
			if src[i] == '\\' {
				i++
			} else if src[i] == '"' {
				return i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := p + 1; i < len(src); i++ {
			if src[i] == '\'' {
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return s.blockScalarEnd(p)
	default:
		// A plain scalar: match its value, a run of spaces or line breaks
		// in the value standing for any run of white space in the source.
		v, i := n.Value, p
		for k := 0; k < len(v); {
			if v[k] == ' ' || v[k] == '\n' {
				for k < len(v) && (v[k] == ' ' || v[k] == '\n') {
					k++
				}
				j := i
				for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r' || src[j] == '\n') {
					j++
				}
				if j == i {
					break
				}
				i = j
				continue
			}
			if i >= len(src) || src[i] != v[k] {
				break
			}
			i++
			k++
			if k == len(v) {
				return i, nil
			}
		}
		if v == "" || (n.Tag == "!!null" && i == p) {
			return p, nil
		}
	}
	return 0, unsafeSplice("cannot find the end of scalar %q", n.Value)
}

// blockScalarEnd is the end of a literal or folded scalar's last non-blank
// line.
func (s *splicer) blockScalarEnd(p int) (int, error) {
	hdrEnd := s.lineAfter(p)
	hdr := string(s.src[p:hdrEnd])
	if i := strings.Index(hdr, " #"); i >= 0 {
		hdr = hdr[:i]
	}
	if strings.Contains(hdr, "+") {
		return 0, unsafeSplice("a block scalar that keeps its trailing lines")
	}
	// Lines less indented than the owner's content end the scalar.
	owner := p - s.lineStart(p)
	for q := s.lineStart(p); q < p && s.src[q] == ' '; q++ {
		owner = q - s.lineStart(p) + 1
	}
	end := p + len(strings.TrimRight(hdr, " \r\n"))
	min := -1
	for q := hdrEnd; q < len(s.src); {
		next := s.lineAfter(q)
		line := bytes.TrimRight(s.src[q:next], "\r\n")
		ind := len(line) - len(bytes.TrimLeft(line, " "))
		if len(bytes.TrimSpace(line)) > 0 {
			if min < 0 {
				min = ind
			}
			if ind < min || (min <= owner && ind <= owner) {
				break
			}
			end = q + len(line)
		}
		q = next
	}
	return end, nil
}

// flowEnd is the offset after the bracket that closes the one at p.
func (s *splicer) flowEnd(p int) (int, error) {
	depth := 0
	src := s.src
	for i := p; i < len(src); i++ {
		switch src[i] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		case '"':
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case '\'':
			for i++; i < len(src); i++ {
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case '#':
			if i > 0 && (src[i-1] == ' ' || src[i-1] == '\n') {
				return 0, unsafeSplice("a comment inside a flow collection")
			}
		}
	}
	return 0, unsafeSplice("an unclosed flow collection")
}

// colonAfter is the offset after the ":" that follows a key.
func (s *splicer) colonAfter(k *yaml.Node) (int, error) {
	p, err := s.end(k)
	if err != nil {
		return 0, err
	}
	for p < len(s.src) && s.src[p] == ' ' {
		p++
	}
	if p >= len(s.src) || s.src[p] != ':' {
		return 0, unsafeSplice("no colon after key %q", k.Value)
	}
	return p + 1, nil
}

// node writes the differences of cur from orig; ind is the indentation of
// the key or "-" that owns orig, flow says orig is inside a flow
// collection.
func (s *splicer) node(cur, orig *yaml.Node, ind int, flow bool) error {
	if equalNode(cur, orig) {
		return nil
	}
	if cur.Kind != orig.Kind || cur.Kind == yaml.ScalarNode {
		if cur.Kind == yaml.ScalarNode && orig.Kind == yaml.ScalarNode {
			return s.scalar(cur, orig, ind, flow)
		}
		return unsafeSplice("%s became %s", kindName(orig.Kind), kindName(cur.Kind))
	}
	if orig.Style&yaml.TaggedStyle != 0 && orig.Style&yaml.FlowStyle == 0 && len(orig.Content) == 0 {
		// "annotations: !!map" with nothing after it: no entry to place new
		// ones by. (A tagged collection with entries is placed by them,
		// not by the node, which stands at the tag's column.)
		return unsafeSplice("an empty block collection with an explicit tag changed")
	}
	switch {
	case cur.Kind == yaml.MappingNode && orig.Style&yaml.FlowStyle != 0:
		return s.flowMapping(cur, orig)
	case cur.Kind == yaml.MappingNode:
		return s.blockMapping(cur, orig)
	case cur.Kind == yaml.SequenceNode && orig.Style&yaml.FlowStyle != 0:
		return s.flowSequence(cur, orig)
	case cur.Kind == yaml.SequenceNode:
		return s.blockSequence(cur, orig)
	}
	return unsafeSplice("%s node", kindName(cur.Kind))
}

// scalar replaces a scalar where it stands.
func (s *splicer) scalar(cur, orig *yaml.Node, ind int, flow bool) error {
	if orig.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return unsafeSplice("a block scalar changed")
	}
	c := *cur
	if orig.Style&yaml.TaggedStyle != 0 {
		// Its span is the value after the tag, and the tag stays: the new
		// value is written after it when it has that tag too (targetPort:
		// !!int 8080 becomes !!int 9080), and without a tag of its own.
		if !standardTag(orig.ShortTag()) || cur.ShortTag() != orig.ShortTag() {
			return unsafeSplice("a scalar with an explicit tag changed")
		}
		c.Style &^= yaml.TaggedStyle
	}
	a, b, err := s.span(orig)
	if err != nil {
		return err
	}
	if c.Style == 0 && orig.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && c.ShortTag() == "!!str" && !strings.Contains(c.Value, "\n") {
		c.Style = orig.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
	}
	var text string
	if orig.Style == yaml.TaggedStyle && c.Style == 0 && c.ShortTag() == yaml.NodeTagString && taggedPlain(c.Value, flow) {
		text = c.Value // !!str false becomes !!str true, not !!str "true"
	} else if text, err = s.inline(&c, ind, flow); err != nil {
		return err
	}
	if orig.Style&yaml.TaggedStyle != 0 && strings.HasPrefix(text, "!") {
		return unsafeSplice("a scalar with an explicit tag changed")
	}
	s.add(a, b, text)
	return nil
}

// taggedPlain: under an explicit !!str tag a plain value is a string
// whatever it looks like (!!str false): v can be written plain there when
// it reads back as itself.
func taggedPlain(v string, flow bool) bool {
	if v == "" || strings.ContainsAny(v, "\n\r\t#\"'") || flow && strings.ContainsAny(v, ",[]{}") {
		return false
	}
	var n yaml.Node
	if yaml.Unmarshal([]byte("k: !!str "+v), &n) != nil || len(n.Content) != 1 || len(n.Content[0].Content) != 2 {
		return false
	}
	got := n.Content[0].Content[1]
	return got.Value == v && got.Style == yaml.TaggedStyle
}

// standardTag: a scalar tag every YAML 1.2 reader resolves the same way.
func standardTag(tag string) bool {
	switch tag {
	case yaml.NodeTagString, yaml.NodeTagInt, yaml.NodeTagBool, yaml.NodeTagFloat:
		return true
	}
	return false
}

// pair is a kept entry (or item): its index in cur and in orig.
type pair struct{ cur, orig int }

// matchKeys pairs mapping entries by key; kept keys must keep their order.
func matchKeys(cur, orig *yaml.Node) ([]pair, error) {
	// A key's entry in orig: its last (as a map filled in order keeps);
	// a few keys are looked for in place.
	var idx map[string]int
	if len(orig.Content) > 32 {
		idx = make(map[string]int, len(orig.Content)/2)
		for i := 0; i+1 < len(orig.Content); i += 2 {
			idx[orig.Content[i].Value] = i / 2
		}
	}
	find := func(k string) (int, bool) {
		if idx != nil {
			j, ok := idx[k]
			return j, ok
		}
		for i := len(orig.Content)/2*2 - 2; i >= 0; i -= 2 {
			if orig.Content[i].Value == k {
				return i / 2, true
			}
		}
		return 0, false
	}
	var ps []pair
	last := -1
	for i := 0; i+1 < len(cur.Content); i += 2 {
		j, ok := find(cur.Content[i].Value)
		if !ok {
			continue
		}
		if j < last {
			return nil, unsafeSplice("keys changed order")
		}
		last = j
		ps = append(ps, pair{i / 2, j})
	}
	return ps, nil
}

// matchItems pairs list items: equal items at both ends, then the middle by
// their "name" field, else by position.
func matchItems(cur, orig []*yaml.Node) []pair {
	var ps []pair
	lo := 0
	for lo < len(cur) && lo < len(orig) && equalNode(cur[lo], orig[lo]) {
		ps = append(ps, pair{lo, lo})
		lo++
	}
	ec, eo := len(cur), len(orig)
	var tail []pair
	for ec > lo && eo > lo && equalNode(cur[ec-1], orig[eo-1]) {
		ec--
		eo--
		tail = append(tail, pair{ec, eo})
	}
	next := lo // the next orig item free to pair
	for i := lo; i < ec; i++ {
		j := -1
		name := nameOf(cur[i])
		if name != "" {
			for k := next; k < eo; k++ {
				if nameOf(orig[k]) == name {
					j = k
					break
				}
			}
		}
		// Else the next free item of its kind, unless both have names (a
		// name given or taken away keeps the item).
		if j < 0 && next < eo && cur[i].Kind == orig[next].Kind && (name == "" || nameOf(orig[next]) == "") {
			j = next
		}
		if j >= 0 {
			ps = append(ps, pair{i, j})
			next = j + 1
		}
	}
	for i := len(tail) - 1; i >= 0; i-- {
		ps = append(ps, tail[i])
	}
	return ps
}

// nameOf is what identifies a list item: its "name" (containers, volumes,
// ports, env), or the kind and metadata name of an object (a List's items).
func nameOf(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	kind, meta := "", ""
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch {
		case k == "name" && v.Kind == yaml.ScalarNode:
			return v.Value
		case k == "kind" && v.Kind == yaml.ScalarNode:
			kind = v.Value
		case k == "metadata" && v.Kind == yaml.MappingNode:
			meta = nameOf(v) + "/" + namespaceOf(v)
		}
	}
	if kind != "" {
		return kind + "/" + meta
	}
	return ""
}

func namespaceOf(meta *yaml.Node) string {
	for i := 0; i+1 < len(meta.Content); i += 2 {
		if meta.Content[i].Value == "namespace" {
			return meta.Content[i+1].Value
		}
	}
	return ""
}

// gaps calls fn for each run of new entries [from, to), with the orig index
// they follow (-1: before the first), and returns the orig indices not
// kept.
func gaps(ps []pair, nCur, nOrig int, fn func(after int, from, to int)) []int {
	c, o := 0, -1
	for _, p := range append(ps, pair{nCur, nOrig}) {
		if p.cur > c {
			fn(o, c, p.cur)
		}
		c, o = p.cur+1, p.orig
	}
	kept := make([]bool, nOrig)
	for _, p := range ps {
		kept[p.orig] = true
	}
	var gone []int
	for i, k := range kept {
		if !k {
			gone = append(gone, i)
		}
	}
	return gone
}

func (s *splicer) blockMapping(cur, orig *yaml.Node) error {
	ps, err := matchKeys(cur, orig)
	if err != nil {
		return err
	}
	keyOf := func(n *yaml.Node, i int) *yaml.Node { return n.Content[2*i] }
	valOf := func(n *yaml.Node, i int) *yaml.Node { return n.Content[2*i+1] }
	col := orig.Content[0].Column - 1
	// Kept entries whose value changed.
	for _, p := range ps {
		if err := s.value(keyOf(orig, p.orig), valOf(cur, p.cur), valOf(orig, p.orig), col); err != nil {
			return err
		}
	}
	var ferr error
	gone := gaps(ps, len(cur.Content)/2, len(orig.Content)/2, func(after, from, to int) {
		var pos int
		if after < 0 {
			p, err := s.start(keyOf(orig, 0))
			if err != nil || !s.blankBefore(p) {
				ferr = unsafeSplice("a key before the first of a list item's mapping")
				return
			}
			pos = s.lineStart(p)
		} else {
			e, err := s.end(valOf(orig, after))
			if err != nil {
				ferr = err
				return
			}
			pos = s.lineAfter(e)
		}
		ferr = s.insertRun(pos, from, to, func(b *bytes.Buffer, i int) error {
			return s.entry(b, keyOf(cur, i), valOf(cur, i), col)
		})
	})
	if ferr != nil {
		return ferr
	}
	for _, i := range gone {
		k := keyOf(orig, i)
		p, err := s.start(k)
		if err != nil {
			return err
		}
		if !s.blankBefore(p) {
			return unsafeSplice("removing the first key of a list item's mapping")
		}
		a := s.lineStart(p)
		if k.HeadComment != "" {
			a = s.commentsAbove(a)
		}
		e, err := s.end(valOf(orig, i))
		if err != nil {
			return err
		}
		s.cutLines(a, e)
	}
	return nil
}

// commentsAbove moves a line start up over the comment lines right above.
func (s *splicer) commentsAbove(a int) int {
	for a > 0 {
		prev := s.lineStart(a - 1)
		if t := bytes.TrimSpace(s.src[prev:a]); len(t) == 0 || t[0] != '#' {
			break
		}
		a = prev
	}
	return a
}

// cutLines removes the lines from the line start a through the line of e;
// at the end of a source without a final newline, the newline before goes
// instead.
func (s *splicer) cutLines(a, e int) {
	b := s.lineAfter(e)
	if b == len(s.src) && b > 0 && s.src[b-1] != '\n' && a > 0 {
		a--
		if a > 0 && s.src[a-1] == '\r' {
			a--
		}
	}
	s.add(a, b, "")
}

// insertRun inserts the lines render writes for entries [from, to).
func (s *splicer) insertRun(pos, from, to int, render func(*bytes.Buffer, int) error) error {
	b := &s.buf
	b.Reset()
	for i := from; i < to; i++ {
		if err := render(b, i); err != nil {
			return err
		}
	}
	s.insertLines(pos, b.String())
	return nil
}

// insertLines inserts whole lines at a line start (or at the end of a
// source without a final newline).
func (s *splicer) insertLines(pos int, text string) {
	if pos == len(s.src) && pos > 0 && s.src[pos-1] != '\n' {
		text = s.nl + strings.TrimSuffix(text, s.nl)
	}
	s.add(pos, pos, text)
}

// value writes a kept key's changed value: in place when of one kind and
// shape, else rewritten after the key's colon.
func (s *splicer) value(k, cur, orig *yaml.Node, col int) error {
	if equalNode(cur, orig) {
		return nil
	}
	// An empty "{}" or "[]" on the key's line opens into a block (one on
	// a line of its own is written in flow style where it stands).
	emptyFlow := orig.Style&yaml.FlowStyle != 0 && len(orig.Content) == 0 && cur.Style&yaml.FlowStyle == 0 && orig.Line == k.Line
	flow := orig.Style&yaml.FlowStyle != 0
	if cur.Kind == orig.Kind && (cur.Kind == yaml.ScalarNode || flow && !emptyFlow || !flow && len(cur.Content) > 0) {
		return s.node(cur, orig, col, false)
	}
	if orig.Kind == yaml.ScalarNode && orig.Style&yaml.TaggedStyle != 0 {
		// annotations: !!null — the tag would stay after the new block.
		return unsafeSplice("a value with an explicit tag changed shape")
	}
	a, err := s.colonAfter(k)
	if err != nil {
		return err
	}
	b := a
	if orig.Kind != yaml.ScalarNode || orig.Value != "" || orig.Tag != "!!null" {
		if b, err = s.end(orig); err != nil {
			return err
		}
	}
	sb := &s.buf
	sb.Reset()
	if err := s.after(sb, cur, col); err != nil {
		return err
	}
	s.add(a, b, string(bytes.TrimSuffix(sb.Bytes(), []byte(s.nl))))
	return nil
}

func (s *splicer) flowMapping(cur, orig *yaml.Node) error {
	ps, err := matchKeys(cur, orig)
	if err != nil {
		return err
	}
	if len(ps) == 0 && len(orig.Content) > 0 {
		return s.wholeFlow(cur, orig)
	}
	for _, p := range ps {
		if err := s.node(cur.Content[2*p.cur+1], orig.Content[2*p.orig+1], 0, true); err != nil {
			return err
		}
	}
	return s.flowGaps(orig, ps, len(cur.Content)/2, len(orig.Content)/2, 2, func(b *bytes.Buffer, i int) error {
		return s.flowEntry(b, cur.Content[2*i], cur.Content[2*i+1])
	})
}

func (s *splicer) flowSequence(cur, orig *yaml.Node) error {
	ps := matchItems(cur.Content, orig.Content)
	if len(ps) == 0 && len(orig.Content) > 0 {
		return s.wholeFlow(cur, orig)
	}
	for _, p := range ps {
		if err := s.node(cur.Content[p.cur], orig.Content[p.orig], 0, true); err != nil {
			return err
		}
	}
	return s.flowGaps(orig, ps, len(cur.Content), len(orig.Content), 1, func(b *bytes.Buffer, i int) error {
		t, err := s.inline(cur.Content[i], 0, true)
		b.WriteString(t)
		return err
	})
}

// wholeFlow rewrites a flow collection none of whose entries is kept.
func (s *splicer) wholeFlow(cur, orig *yaml.Node) error {
	a, b, err := s.span(orig)
	if err != nil {
		return err
	}
	c := *cur
	c.Style |= yaml.FlowStyle
	if orig.Style&yaml.TaggedStyle != 0 {
		// Its span is the brackets after the tag, and the tag stays.
		if cur.ShortTag() != orig.ShortTag() {
			return unsafeSplice("a flow collection with an explicit tag changed its kind")
		}
		c.Style &^= yaml.TaggedStyle
	}
	t, err := s.inline(&c, 0, true)
	s.add(a, b, t)
	return err
}

// flowGaps inserts and removes the entries of a flow collection (stride 2
// for a mapping's key and value).
func (s *splicer) flowGaps(orig *yaml.Node, ps []pair, nCur, nOrig, stride int, render func(*bytes.Buffer, int) error) error {
	first := func(i int) (int, error) { return s.start(orig.Content[stride*i]) }
	last := func(i int) (int, error) { return s.end(orig.Content[stride*i+stride-1]) }
	var ferr error
	fail := func(err error) bool {
		if err != nil && ferr == nil {
			ferr = err
		}
		return err != nil
	}
	gone := gaps(ps, nCur, nOrig, func(after, from, to int) {
		var b bytes.Buffer
		for i := from; i < to; i++ {
			if i > from {
				b.WriteString(", ")
			}
			if fail(render(&b, i)) {
				return
			}
		}
		switch {
		case nOrig == 0:
			p, err := s.start(orig)
			if !fail(err) {
				s.add(p+1, p+1, b.String())
			}
		case after < 0:
			p, err := first(0)
			if !fail(err) {
				s.add(p, p, b.String()+", ")
			}
		default:
			p, err := last(after)
			if !fail(err) {
				s.add(p, p, ", "+b.String())
			}
		}
	})
	if ferr != nil {
		return ferr
	}
	// Runs of removed entries go with the separator before them (or the
	// one after, for a run at the start).
	for r := 0; r < len(gone); {
		e := r
		for e+1 < len(gone) && gone[e+1] == gone[e]+1 {
			e++
		}
		a, b := gone[r], gone[e]
		var from, to int
		var err error
		switch {
		case a > 0:
			if from, err = last(a - 1); err == nil {
				to, err = last(b)
			}
		case b < nOrig-1:
			if from, err = first(a); err == nil {
				to, err = first(b + 1)
			}
		default:
			if from, err = first(a); err == nil {
				to, err = last(b)
			}
		}
		if err != nil {
			return err
		}
		s.add(from, to, "")
		r = e + 1
	}
	return nil
}

func (s *splicer) blockSequence(cur, orig *yaml.Node) error {
	ps := matchItems(cur.Content, orig.Content)
	line, col := s.at(orig) // "items: !!seq": at its first dash, not the tag
	if line == orig.Line && orig.Style&yaml.TaggedStyle != 0 {
		return unsafeSplice("a list item not on its dash's line")
	}
	dash := col - 1
	for _, p := range ps {
		if err := s.node(cur.Content[p.cur], orig.Content[p.orig], dash, false); err != nil {
			return err
		}
	}
	itemLine := func(i int) (int, error) {
		p, err := s.start(orig.Content[i])
		if err != nil {
			return 0, err
		}
		d := bytes.LastIndexByte(s.src[s.lineStart(p):p], '-')
		if d < 0 || !s.blankBefore(s.lineStart(p)+d) {
			return 0, unsafeSplice("a list item not on its dash's line")
		}
		return s.lineStart(p), nil
	}
	var ferr error
	gone := gaps(ps, len(cur.Content), len(orig.Content), func(after, from, to int) {
		var pos int
		var err error
		if after < 0 {
			pos, err = itemLine(0)
		} else {
			var e int
			if e, err = s.end(orig.Content[after]); err == nil {
				pos = s.lineAfter(e)
			}
		}
		if err != nil {
			ferr = err
			return
		}
		ferr = s.insertRun(pos, from, to, func(b *bytes.Buffer, i int) error {
			return s.item(b, cur.Content[i], dash)
		})
	})
	if ferr != nil {
		return ferr
	}
	for _, i := range gone {
		a, err := itemLine(i)
		if err != nil {
			return err
		}
		e, err := s.end(orig.Content[i])
		if err != nil {
			return err
		}
		s.cutLines(a, e)
	}
	return nil
}

// Rendering of new nodes in the document's style.

// inlineNode: a scalar, a flow collection or an empty one is written on the
// key's line.
func inlineNode(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode || n.Kind == yaml.AliasNode || n.Style&yaml.FlowStyle != 0 || len(n.Content) == 0
}

// entry renders "key: value" lines at column col.
func (s *splicer) entry(b *bytes.Buffer, k, v *yaml.Node, col int) error {
	s.comment(b, k.HeadComment, col)
	key, err := s.inline(k, col, false)
	if err != nil {
		return err
	}
	writeSpaces(b, col)
	b.WriteString(key)
	b.WriteByte(':')
	return s.after(b, v, col)
}

// after renders what follows a key's colon: " value" or the block below.
func (s *splicer) after(b *bytes.Buffer, v *yaml.Node, col int) error {
	if inlineNode(v) {
		t, err := s.inline(v, col, false)
		if err != nil {
			return err
		}
		if t != "" {
			b.WriteByte(' ')
			b.WriteString(t)
		}
		s.lineComment(b, v)
		b.WriteString(s.nl)
		return nil
	}
	b.WriteString(s.nl)
	if v.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(v.Content); i += 2 {
			if err := s.entry(b, v.Content[i], v.Content[i+1], col+s.indent); err != nil {
				return err
			}
		}
		return nil
	}
	// A list under a key: as the document's lists at this column are (the
	// whole document's habit where none is).
	dash := col
	if w, ok := s.wideAt[col]; w > 0 || (!ok || w == 0) && s.wide {
		dash += s.indent
	}
	for _, it := range v.Content {
		if err := s.item(b, it, dash); err != nil {
			return err
		}
	}
	return nil
}

// item renders "- item" lines with the dash at column dash.
func (s *splicer) item(b *bytes.Buffer, it *yaml.Node, dash int) error {
	s.comment(b, it.HeadComment, dash)
	if inlineNode(it) || it.Kind != yaml.MappingNode {
		if !inlineNode(it) {
			// A list in a list: written in flow style.
			c := *it
			c.Style |= yaml.FlowStyle
			it = &c
		}
		t, err := s.inline(it, dash, false)
		if err != nil {
			return err
		}
		writeSpaces(b, dash)
		b.WriteString("- ")
		b.WriteString(t)
		s.lineComment(b, it)
		b.WriteString(s.nl)
		return nil
	}
	// The entries at the item's column, then the first one's indentation
	// (as wide as the dash and the offset after it) turned into "- ": the
	// first key goes on the dash's line.
	mark := b.Len()
	for i := 0; i+1 < len(it.Content); i += 2 {
		if err := s.entry(b, it.Content[i], it.Content[i+1], dash+s.offset); err != nil {
			return err
		}
	}
	t := b.Bytes()[mark:]
	if len(t) < dash+s.offset || len(bytes.TrimLeft(t[:dash+s.offset], " ")) > 0 {
		return unsafeSplice("a list item with a comment before its first key")
	}
	t[dash] = '-'
	return nil
}

func (s *splicer) comment(b *bytes.Buffer, c string, col int) {
	if c == "" {
		return
	}
	for _, l := range strings.Split(c, "\n") {
		writeSpaces(b, col)
		b.WriteString(l)
		b.WriteString(s.nl)
	}
}

func (s *splicer) lineComment(b *bytes.Buffer, n *yaml.Node) {
	if n.LineComment != "" {
		b.WriteByte(' ')
		b.WriteString(n.LineComment)
	}
}

// writeSpaces writes n spaces.
func writeSpaces(b io.StringWriter, n int) {
	for n > len(spaces) {
		_, _ = b.WriteString(spaces)
		n -= len(spaces)
	}
	_, _ = b.WriteString(spaces[:max(n, 0)])
}

const spaces = "                                                                "

// inline renders a scalar or a flow collection, as the value of a key at
// column col (continuation lines of a block scalar are indented past it).
func (s *splicer) inline(n *yaml.Node, col int, flow bool) (string, error) {
	if n.Kind == yaml.ScalarNode && n.Style == 0 && plainSafe(n, flow) {
		return n.Value, nil
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.SingleQuotedStyle && printableASCII(n.Value) {
		return "'" + strings.ReplaceAll(n.Value, "'", "''") + "'", nil
	}
	// The emitter is costly to start: a scalar it rendered once (the same
	// "-W", "128Mi" in every workload) is looked up.
	cache := n.Kind == yaml.ScalarNode && len(n.Value) <= maxInlineCached
	key := inlineKey{n.Value, n.Tag, n.Style, s.indent, col, flow}
	if cache {
		if v, ok := inlineCache.Load(key); ok {
			r := v.(inlineResult)
			return r.text, r.err
		}
	}
	text, err := s.emitInline(n, col, flow)
	if cache {
		if inlineCached.Add(1) <= maxInlineEntries {
			inlineCache.Store(key, inlineResult{text, err})
		}
	}
	return text, err
}

// inlineKey is what inline's rendering of a scalar depends on.
type inlineKey struct {
	value, tag string
	style      yaml.Style
	indent     int
	col        int
	flow       bool
}

type inlineResult struct {
	text string
	err  error
}

// The cache of rendered scalars is bounded: a stream of all-different
// values does not keep them all.
var (
	inlineCache  sync.Map
	inlineCached atomic.Int64
)

const (
	maxInlineCached  = 256 // bytes of a value
	maxInlineEntries = 4096
)

// emitInline renders a node with the YAML emitter.
func (s *splicer) emitInline(n *yaml.Node, col int, flow bool) (string, error) {
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	if len(c.Content) == 0 && c.Kind != yaml.ScalarNode {
		c.Style |= yaml.FlowStyle
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "k"}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{key, &c}}
	if flow {
		m.Style = yaml.FlowStyle
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(s.indent)
	if err := enc.Encode(m); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	if flow {
		out = strings.TrimSuffix(strings.TrimPrefix(out, "{"), "}")
	}
	out, ok := strings.CutPrefix(out, "k:")
	if !ok {
		return "", unsafeSplice("cannot render %q", n.Value)
	}
	out = strings.TrimPrefix(out, " ")
	if !strings.Contains(out, "\n") {
		return out, nil
	}
	if flow {
		return "", unsafeSplice("a multi-line value in a flow collection")
	}
	ls := strings.Split(out, "\n")
	for i := 1; i < len(ls); i++ {
		if ls[i] != "" {
			ls[i] = strings.Repeat(" ", col) + ls[i]
		}
	}
	return strings.Join(ls, s.nl), nil
}

// plainSafe reports a scalar that can be written as it is, unquoted: a
// conservative test, the emitter decides the rest.
func plainSafe(n *yaml.Node, flow bool) bool {
	v := n.Value
	if v == "" {
		return false
	}
	switch n.Tag {
	case "!!int", "!!bool", "!!float":
		return true // written as resolved from the source or the engine
	case "!!str", "":
	default:
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/' {
			continue
		}
		// "image:tag", "host:port": a colon not before a space, in block
		// context.
		if c == ':' && !flow && i+1 < len(v) && v[i+1] != ' ' {
			continue
		}
		return false
	}
	if c := v[0]; c == '-' || c == '.' || c >= '0' && c <= '9' {
		return false // numbers, "-" and ".inf" read as something else
	}
	for _, w := range [...]string{"y", "yes", "n", "no", "true", "false", "on", "off", "null"} {
		if len(v) == len(w) && strings.EqualFold(v, w) { // v is ASCII
			return false
		}
	}
	return true
}

// printableASCII: a single-quoted scalar holds it as it is (a quote
// written twice).
func printableASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// equalNode compares trees by kind, tag and value (styles and comments
// aside).
func equalNode(a, b *yaml.Node) bool {
	if a == b {
		return true
	}
	if a.Kind != b.Kind || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return false
	}
	if a.Tag != b.Tag && a.ShortTag() != b.ShortTag() {
		return false
	}
	for i := range a.Content {
		if !equalNode(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

func hasAnchors(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAnchors(c) {
			return true
		}
	}
	return false
}

// copyTree copies a parsed tree (positions included) before the engine
// edits it, in two allocations.
func copyTree(n *yaml.Node) *yaml.Node {
	nodes, slices := countTree(n)
	return copySized(n, nodes, slices)
}

// treeArrays are the two arrays of a copy of a tree that a document's
// finalize lets go: its original (copyOriginal), a helper container's
// nodes (toRNodeShared).
type treeArrays struct {
	nodes  []yaml.Node
	slices []*yaml.Node
}

// A document's original is read by the splice only, and its tree is let
// go when the document is finalized: the arrays of the copies in it then
// serve the next copies instead of new ones the allocator must zero and
// the collector sweep.
var pooledArrays = sync.Pool{New: func() any { return new(treeArrays) }}

// copyOriginal is copyTree into arrays from the pool, which d's finalize
// gives back.
func copyOriginal(n *yaml.Node, d *Doc) *yaml.Node {
	nodes, slices := countTree(n)
	return copyPooled(n, nodes, slices, d)
}

// copyPooled is copySized into arrays from the pool, which d's finalize
// gives back.
func copyPooled(n *yaml.Node, nodes, slices int, d *Doc) *yaml.Node {
	a := pooledArrays.Get().(*treeArrays)
	if cap(a.nodes) < nodes || cap(a.slices) < slices {
		// Room for trees a little larger than this one.
		a.nodes = make([]yaml.Node, nodes+nodes/4)
		a.slices = make([]*yaml.Node, slices+slices/4)
	}
	d.arrays = append(d.arrays, a)
	return copyInto(n, a.nodes[:nodes], a.slices[:slices])
}

// release gives an original's arrays back to the pool; nothing may read
// the original after. Under verify (verify.go) they are overwritten first,
// so that a reader that came later would not find the tree it expects.
func (a *treeArrays) release() {
	if a == nil {
		return
	}
	if verify {
		for i := range a.nodes {
			a.nodes[i] = yaml.Node{Kind: yaml.ScalarNode, Value: "\x00released original"}
		}
		clear(a.slices)
	}
	pooledArrays.Put(a)
}

// countTree counts a tree's nodes and the entries of its Content slices.
func countTree(n *yaml.Node) (nodes, slices int) {
	nodes, slices = 1, len(n.Content)
	for _, c := range n.Content {
		cn, cs := countTree(c)
		nodes, slices = nodes+cn, slices+cs
	}
	return nodes, slices
}

// copySized is a deep copy of a tree of that many nodes and Content
// entries (countTree): its nodes in one array, its Content slices in
// another (each capped at its length, so that an append to one never
// writes into the next).
func copySized(root *yaml.Node, nodes, slices int) *yaml.Node {
	return copyInto(root, make([]yaml.Node, nodes), make([]*yaml.Node, slices))
}

// copyInto is copySized into the arrays given (of the tree's size).
func copyInto(root *yaml.Node, ns []yaml.Node, ss []*yaml.Node) *yaml.Node {
	var cp func(*yaml.Node) *yaml.Node
	cp = func(src *yaml.Node) *yaml.Node {
		dst := &ns[0]
		ns = ns[1:]
		*dst = *src
		if len(src.Content) > 0 {
			n := len(src.Content)
			dst.Content = ss[:n:n]
			ss = ss[n:]
			for i, c := range src.Content {
				dst.Content[i] = cp(c)
			}
		} else if src.Content != nil {
			dst.Content = []*yaml.Node{}
		}
		return dst
	}
	return cp(root)
}

// flowEntry renders "key: value" inside a flow mapping.
func (s *splicer) flowEntry(b *bytes.Buffer, k, v *yaml.Node) error {
	key, err := s.inline(k, 0, true)
	if err != nil {
		return err
	}
	val, err := s.inline(v, 0, true)
	if err != nil {
		return err
	}
	b.WriteString(key)
	b.WriteString(": ")
	b.WriteString(val)
	return nil
}
