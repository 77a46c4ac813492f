package transform

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// quickParse reads the block YAML most Kubernetes manifests are written in
// and builds the tree yaml.v3 would build from the same bytes: the same
// kinds, tags, styles, values, comments and positions. It exists for speed
// (yaml.v3's scanner, parser and per-node allocations were a third of a
// run's CPU; README "Benchmark"): one pass over the lines, nodes and their
// content lists cut from slabs, values as substrings of one copy of the
// document.
//
// It knows a subset and returns nil for anything outside it, which yaml.v3
// then reads: a document that is not a block mapping at column 1, anchors,
// aliases, tags, merge keys, "?" keys, folded and indented-indicator block
// scalars, plain scalars over several lines, flow collections over several
// lines or with ":" or "#" in a plain scalar, rare escapes, comments other
// than a line comment after a value or key and comment lines directly
// above a key or item of their own column, non-ASCII or control bytes
// (tabs, CR). Errors are yaml.v3's too: malformed YAML falls outside the
// subset. Under verify (verify.go) every document it reads is read by
// yaml.v3 as well and the two trees must be the same, field by field.
func quickParse(raw []byte) (doc *yaml.Node) {
	for _, c := range raw {
		if c >= utf8.RuneSelf || (c < ' ' && c != '\n') || c == 0x7f {
			return nil
		}
	}
	p := quickPool.Get().(*quick)
	p.src = string(raw)
	defer func() {
		p.reset()
		quickPool.Put(p)
		if r := recover(); r != nil {
			// A bug of this reader would be a panic: under verify it is
			// raised; in a run, yaml.v3 reads the document.
			if r != errQuick && verify {
				panic(r)
			}
			doc = nil
		}
	}()
	return p.document()
}

// quickPool keeps readers for their scratch lists (lines, the content
// stack, comment lines); the trees they build are their own.
var quickPool = sync.Pool{New: func() any { return new(quick) }}

// reset empties a reader for the pool, keeping its scratch lists' arrays
// (the stack cleared: no pointer into a returned tree stays behind).
func (p *quick) reset() {
	clear(p.children[:cap(p.children)])
	*p = quick{lines: p.lines[:0], children: p.children[:0], pend: p.pend[:0]}
}

type quickBail struct{}

var errQuick any = quickBail{}

// bail leaves the subset: the caller parses with yaml.v3.
func bail() { panic(errQuick) }

type quickLine struct{ start, end, indent int } // end excludes the '\n'

type quick struct {
	src   string
	lines []quickLine
	li    int // the line being read
	// Comment lines read since the last node, waiting for the node they
	// are the head comment of; gap: a blank line among or after them.
	pend     []int
	pendGap  bool
	nodes    []yaml.Node
	ptrs     []*yaml.Node
	children []*yaml.Node // content being collected, as a stack
	depth    int          // collections open
}

// quickDepth bounds the nesting this reader follows (recursion); yaml.v3
// reads deeper documents. quickKey bounds a key's length: YAML limits an
// implicit key to 1024 characters.
const (
	quickDepth = 200
	quickKey   = 1000
)

// open enters a collection; the caller closes it (p.depth--).
func (p *quick) open() {
	if p.depth++; p.depth > quickDepth {
		bail()
	}
}

func (p *quick) splitLines() {
	s := p.src
	if n := strings.Count(s, "\n") + 1; cap(p.lines) < n {
		p.lines = make([]quickLine, 0, n)
	}
	for i := 0; i < len(s); {
		end := strings.IndexByte(s[i:], '\n')
		next := i + end + 1
		if end < 0 {
			end, next = len(s)-i, len(s)
		}
		j := i
		for j < i+end && s[j] == ' ' {
			j++
		}
		if j == i && end >= 3 && (s[i:i+3] == "---" || s[i:i+3] == "...") && (end == 3 || s[i+3] == ' ') {
			bail() // a document marker: yaml.v3 ends the document there
		}
		p.lines = append(p.lines, quickLine{start: i, end: i + end, indent: j - i})
		i = next
	}
	// nodes: two per key (its value), one per list entry, one per flow
	// list entry; a little more where ": " or "- " is inside a value.
	est := 2*(strings.Count(s, ": ")+strings.Count(s, ":\n")) + strings.Count(s, "- ") + strings.Count(s, ",") + strings.Count(s, "[") + 2
	p.nodes = make([]yaml.Node, 0, est)
	p.ptrs = make([]*yaml.Node, 0, est)
}

func (l quickLine) blank() bool { return l.start+l.indent == l.end }

func (p *quick) comment(l quickLine) bool { return !l.blank() && p.src[l.start+l.indent] == '#' }

// item: the line is a block sequence entry ("- " or a lone "-").
func (p *quick) item(l quickLine) bool {
	i := l.start + l.indent
	return i < l.end && p.src[i] == '-' && (i+1 == l.end || p.src[i+1] == ' ')
}

func (p *quick) newNode(kind yaml.Kind, tag, value string, li, off int) *yaml.Node {
	if len(p.nodes) == cap(p.nodes) {
		p.nodes = make([]yaml.Node, 0, 32)
	}
	// Field by field into the slab's zeroed node: only the two strings
	// are pointer writes (a whole-node copy is a barrier over all of it).
	p.nodes = p.nodes[:len(p.nodes)+1]
	n := &p.nodes[len(p.nodes)-1]
	n.Kind, n.Tag, n.Value, n.Line, n.Column = kind, tag, value, li+1, off-p.lines[li].start+1
	return n
}

// content ends a collection: its children from mark on the stack, in a
// list of their own (capacity = length, so an append by an edit copies).
func (p *quick) content(n *yaml.Node, mark int) {
	c := p.children[mark:]
	if len(c) == 0 {
		return
	}
	if len(c) > cap(p.ptrs)-len(p.ptrs) {
		p.ptrs = make([]*yaml.Node, 0, max(len(c), 64))
	}
	at := len(p.ptrs)
	p.ptrs = append(p.ptrs, c...)
	n.Content = p.ptrs[at:len(p.ptrs):len(p.ptrs)]
	p.children = p.children[:mark]
}

func (p *quick) document() *yaml.Node {
	p.splitLines()
	// A comment after the last entry is a foot comment, which this reader
	// leaves to yaml.v3: known before reading the rest.
	for i := len(p.lines) - 1; i >= 0; i-- {
		if l := p.lines[i]; !l.blank() {
			if p.comment(l) {
				bail()
			}
			break
		}
	}
	// Comment lines above the first key: the groups before the last blank
	// line are the document's head comment, the group touching the key
	// is the key's.
	var groups []string
	var cur []int
	for p.li < len(p.lines) {
		l := p.lines[p.li]
		if l.blank() {
			if len(cur) > 0 {
				groups = append(groups, p.join(cur))
				cur = nil
				if p.li+1 < len(p.lines) && p.lines[p.li+1].blank() {
					bail() // more than one blank line between groups
				}
			}
			p.li++
			continue
		}
		if !p.comment(l) {
			break
		}
		if l.indent != 0 {
			bail()
		}
		cur = append(cur, p.li)
		p.li++
	}
	if p.li == len(p.lines) {
		bail() // empty, or comments only
	}
	l := p.lines[p.li]
	if l.indent != 0 || p.item(l) {
		bail()
	}
	p.pend = cur
	m := p.blockMapping(l.start)
	if p.li != len(p.lines) || len(p.pend) > 0 {
		bail() // foot comments, or something this reader does not know
	}
	d := &yaml.Node{Kind: yaml.DocumentNode, Line: m.Line, Column: m.Column, HeadComment: strings.Join(groups, "\n\n")}
	d.Content = []*yaml.Node{m}
	return d
}

// join: the comment lines as a comment, one per line.
func (p *quick) join(lines []int) string {
	if len(lines) == 1 {
		l := p.lines[lines[0]]
		return p.src[l.start+l.indent : l.end]
	}
	var b strings.Builder
	for i, li := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		l := p.lines[li]
		b.WriteString(p.src[l.start+l.indent : l.end])
	}
	return b.String()
}

// skip moves past blank and comment lines, keeping the comment lines.
func (p *quick) skip() {
	for ; p.li < len(p.lines); p.li++ {
		l := p.lines[p.li]
		switch {
		case l.blank():
			if len(p.pend) > 0 {
				p.pendGap = true
			}
		case p.comment(l):
			if p.pendGap {
				bail()
			}
			p.pend = append(p.pend, p.li)
		default:
			return
		}
	}
}

// head takes the waiting comment lines as the head comment of a node whose
// first line starts at indent.
func (p *quick) head(indent int) string {
	if len(p.pend) == 0 {
		return ""
	}
	if p.pendGap {
		bail()
	}
	for _, li := range p.pend {
		if p.lines[li].indent != indent {
			bail()
		}
	}
	h := p.join(p.pend)
	p.pend = p.pend[:0]
	return h
}

// lineComment reads what follows a value on its line: nothing, or a
// comment after a space.
func (p *quick) lineComment(off int) string {
	l := p.lines[p.li]
	i := off
	for i < l.end && p.src[i] == ' ' {
		i++
	}
	if i == l.end {
		return ""
	}
	if p.src[i] != '#' || i == off {
		bail()
	}
	return p.src[i:l.end]
}

// next ends the current line and moves to the next one with content.
func (p *quick) next() {
	p.li++
	p.skip()
}

// blockMapping reads a block mapping whose first key starts at byte off of
// the current line.
func (p *quick) blockMapping(off int) *yaml.Node {
	li := p.li
	indent := off - p.lines[li].start
	p.open()
	defer func() { p.depth-- }()
	m := p.newNode(yaml.MappingNode, "!!map", "", li, off)
	mark := len(p.children)
	for {
		k, after := p.key(off)
		k.HeadComment = p.head(indent)
		v := p.value(indent, after, k) // may use the stack above this mapping's entries
		p.children = append(p.children, k, v)
		if p.li == len(p.lines) {
			break
		}
		l := p.lines[p.li]
		if l.indent < indent {
			break
		}
		if l.indent > indent || p.item(l) {
			bail()
		}
		off = l.start + l.indent
	}
	p.content(m, mark)
	return m
}

// key reads a mapping key at off and returns it with the offset after its
// ":".
func (p *quick) key(off int) (*yaml.Node, int) {
	l := p.lines[p.li]
	c := p.src[off]
	if c == '"' || c == '\'' {
		k, end := p.quoted(off, l.end)
		if end >= l.end || p.src[end] != ':' || (end+1 < l.end && p.src[end+1] != ' ') || end-off > quickKey {
			bail()
		}
		return k, end + 1
	}
	if indicator(c) {
		bail()
	}
	colon := keyColon(p.src[off:l.end])
	if colon < 0 || colon > quickKey {
		bail()
	}
	v := strings.TrimRight(p.src[off:off+colon], " ")
	if v == "<<" {
		bail()
	}
	return p.newNode(yaml.ScalarNode, plainTag(v), v, p.li, off), off + colon + 1
}

// keyColon finds the ":" that ends a plain key on a line (followed by a
// space or the line's end), or -1 (a comment first, or none).
func keyColon(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ':':
			if i+1 == len(s) || s[i+1] == ' ' {
				return i
			}
		case '#':
			if i > 0 && s[i-1] == ' ' {
				return -1
			}
		}
	}
	return -1
}

// indicator: c cannot start a plain scalar this reader takes.
func indicator(c byte) bool {
	switch c {
	case '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ':
		return true
	}
	return false
}

// value reads the value of a key of a mapping at indent, from after its
// ":", and moves to the next line with content.
func (p *quick) value(indent, after int, k *yaml.Node) *yaml.Node {
	l := p.lines[p.li]
	q := after
	for q < l.end && p.src[q] == ' ' {
		q++
	}
	if q < l.end && p.src[q] != '#' {
		return p.inline(q, indent)
	}
	if q < l.end { // a comment after the key
		if q == after {
			bail()
		}
		k.LineComment = p.src[q:l.end]
	}
	li := p.li
	p.next()
	if p.li < len(p.lines) {
		n := p.lines[p.li]
		if n.indent > indent {
			if p.item(n) {
				return p.blockSequence()
			}
			return p.blockMapping(n.start + n.indent)
		}
		if n.indent == indent && p.item(n) {
			return p.blockSequence()
		}
	}
	if k.LineComment != "" {
		bail()
	}
	return p.newNode(yaml.ScalarNode, "!!null", "", li, after)
}

// inline reads a value that starts at q on the current line, in a
// collection at indent, and moves to the next line with content.
func (p *quick) inline(q, indent int) *yaml.Node {
	l := p.lines[p.li]
	var n *yaml.Node
	end := l.end
	switch c := p.src[q]; {
	case c == '"' || c == '\'':
		n, end = p.quoted(q, l.end)
	case c == '[' || c == '{':
		n, end = p.flow(q, l.end)
	case c == '|':
		return p.literal(q, indent)
	case c == '-' && q+1 < l.end && p.src[q+1] != ' ':
		fallthrough
	case !indicator(c):
		i := q
		for i < l.end && !(p.src[i] == '#' && p.src[i-1] == ' ') {
			i++
		}
		v := strings.TrimRight(p.src[q:i], " ")
		if strings.Contains(v, ": ") || strings.HasSuffix(v, ":") || v == "<<" {
			bail()
		}
		n = p.newNode(yaml.ScalarNode, plainTag(v), v, p.li, q)
		end = q + len(v)
	default:
		bail()
	}
	n.LineComment = p.lineComment(end)
	p.next()
	return n
}

// blockSequence reads a block sequence whose first "-" is on the current
// line.
func (p *quick) blockSequence() *yaml.Node {
	l := p.lines[p.li]
	indent := l.indent
	p.open()
	defer func() { p.depth-- }()
	s := p.newNode(yaml.SequenceNode, "!!seq", "", p.li, l.start+indent)
	mark := len(p.children)
	for {
		h := p.head(indent)
		q := l.start + indent + 1
		for q < l.end && p.src[q] == ' ' {
			q++
		}
		if q == l.end || p.src[q] == '#' || (p.src[q] == '-' && (q+1 == l.end || p.src[q+1] == ' ')) {
			bail() // an entry that starts on the next line, or a list in a list
		}
		var n *yaml.Node
		if p.isKey(q, l.end) {
			n = p.blockMapping(q)
		} else {
			n = p.inline(q, indent)
		}
		n.HeadComment = h
		p.children = append(p.children, n)
		if p.li == len(p.lines) {
			break
		}
		l = p.lines[p.li]
		if l.indent < indent || (l.indent == indent && !p.item(l)) {
			break
		}
		if l.indent > indent {
			bail()
		}
	}
	p.content(s, mark)
	return s
}

// isKey: a mapping key starts at q (a compact mapping in a list entry).
func (p *quick) isKey(q, end int) bool {
	c := p.src[q]
	if c == '"' || c == '\'' {
		close := q + 1
		for close < end && p.src[close] != c {
			close++
		}
		return close+1 < end && p.src[close+1] == ':'
	}
	return !indicator(c) && keyColon(p.src[q:end]) >= 0
}

// quoted reads a one-line quoted scalar at q as a node and returns it
// with the offset after the closing quote.
func (p *quick) quoted(q, end int) (*yaml.Node, int) {
	v, after := p.quotedValue(q, end)
	n := p.newNode(yaml.ScalarNode, "!!str", v, p.li, q)
	n.Style = yaml.DoubleQuotedStyle
	if p.src[q] == '\'' {
		n.Style = yaml.SingleQuotedStyle
	}
	return n, after
}

// quotedValue reads a one-line quoted scalar at q and returns its value and the
// offset after the closing quote.
func (p *quick) quotedValue(q, end int) (string, int) {
	quote := p.src[q]
	i := q + 1
	plain := true
	for ; i < end; i++ {
		c := p.src[i]
		if c == quote {
			if quote == '\'' && i+1 < end && p.src[i+1] == '\'' {
				plain = false
				i++
				continue
			}
			break
		}
		if c == '\\' && quote == '"' {
			plain = false
			i++
		}
	}
	if i >= end {
		bail() // runs onto the next line
	}
	s := p.src[q+1 : i]
	if plain {
		return s, i + 1
	}
	if quote == '\'' {
		return strings.ReplaceAll(s, "''", "'"), i + 1
	}
	var b strings.Builder
	for j := 0; j < len(s); j++ {
		c := s[j]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		j++
		switch s[j] {
		case '\\', '"':
			b.WriteByte(s[j])
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case 'u':
			if j+4 >= len(s) {
				bail()
			}
			r, err := strconv.ParseUint(s[j+1:j+5], 16, 32)
			if err != nil || (r >= 0xd800 && r <= 0xdfff) {
				bail()
			}
			b.WriteRune(rune(r))
			j += 4
		default:
			bail()
		}
	}
	return b.String(), i + 1
}

// flow reads a flow collection that closes on its line and returns it with
// the offset after its closing bracket.
func (p *quick) flow(q, end int) (*yaml.Node, int) {
	open := p.src[q]
	kind, tag, close := yaml.SequenceNode, "!!seq", byte(']')
	if open == '{' {
		kind, tag, close = yaml.MappingNode, "!!map", '}'
	}
	p.open()
	defer func() { p.depth-- }()
	n := p.newNode(kind, tag, "", p.li, q)
	n.Style = yaml.FlowStyle
	mark := len(p.children)
	i := p.spaces(q+1, end)
	if i < end && p.src[i] == close {
		p.content(n, mark)
		return n, i + 1
	}
	for {
		if open == '{' {
			k, j := p.flowScalar(i, end, true)
			if j+1 >= end || p.src[j] != ':' || p.src[j+1] != ' ' || j-i > quickKey {
				bail()
			}
			p.children = append(p.children, k)
			i = p.spaces(j+1, end)
		}
		var v *yaml.Node
		v, i = p.flowItem(i, end)
		p.children = append(p.children, v)
		i = p.spaces(i, end)
		if i == end {
			bail()
		}
		if p.src[i] == close {
			break
		}
		if p.src[i] != ',' {
			bail()
		}
		i = p.spaces(i+1, end)
		if i == end || p.src[i] == close {
			bail()
		}
	}
	p.content(n, mark)
	return n, i + 1
}

func (p *quick) spaces(i, end int) int {
	for i < end && p.src[i] == ' ' {
		i++
	}
	return i
}

func (p *quick) flowItem(i, end int) (*yaml.Node, int) {
	if i == end {
		bail()
	}
	if c := p.src[i]; c == '[' || c == '{' {
		return p.flow(i, end)
	}
	return p.flowScalar(i, end, false)
}

// flowScalar reads a quoted or plain scalar inside a flow collection; key:
// it ends at ": ".
func (p *quick) flowScalar(i, end int, key bool) (*yaml.Node, int) {
	if i == end {
		bail()
	}
	c := p.src[i]
	if c == '"' || c == '\'' {
		return p.quoted(i, end)
	}
	if indicator(c) && !(c == '-' && i+1 < end && !strings.ContainsRune(" ,[]{}", rune(p.src[i+1]))) {
		bail()
	}
	j := i
	for ; j < end; j++ {
		c := p.src[j]
		if c == ',' || c == '[' || c == ']' || c == '{' || c == '}' {
			break
		}
		if c == ':' {
			if !key {
				bail()
			}
			break
		}
		if c == '#' || c == '?' { // '?' ends a plain scalar in a flow
			bail()
		}
	}
	v := strings.TrimRight(p.src[i:j], " ")
	if v == "" || v == "<<" {
		bail()
	}
	return p.newNode(yaml.ScalarNode, plainTag(v), v, p.li, i), i + len(v)
}

// literal reads a literal block scalar ("|", "|-" or "|+") whose indicator
// is at q, in a collection at indent.
func (p *quick) literal(q, indent int) *yaml.Node {
	l := p.lines[p.li]
	n := p.newNode(yaml.ScalarNode, "!!str", "", p.li, q)
	n.Style = yaml.LiteralStyle
	chomp := byte(0)
	i := q + 1
	if i < l.end && (p.src[i] == '-' || p.src[i] == '+') {
		chomp = p.src[i]
		i++
	}
	if p.spaces(i, l.end) != l.end {
		bail() // an indentation indicator or a comment
	}
	p.li++
	if p.li == len(p.lines) || p.lines[p.li].blank() || p.lines[p.li].indent <= indent {
		bail()
	}
	block := p.lines[p.li].indent
	var b strings.Builder
	empties := 0 // empty lines not yet written
	last := -1   // the last content line
	for ; p.li < len(p.lines); p.li++ {
		l := p.lines[p.li]
		if l.blank() {
			if l.end-l.start > block {
				bail()
			}
			empties++
			continue
		}
		if l.indent < block {
			break
		}
		if last >= 0 {
			b.WriteByte('\n')
			for ; empties > 0; empties-- {
				b.WriteByte('\n')
			}
		}
		empties = 0
		b.WriteString(p.src[l.start+block : l.end])
		last = p.li
	}
	if p.lines[last].end == len(p.src) {
		bail() // no line break after the last line
	}
	switch chomp {
	case 0:
		b.WriteByte('\n')
	case '+':
		if p.li == len(p.lines) && empties > 0 && p.lines[p.li-1].end == len(p.src) {
			bail()
		}
		for ; empties >= 0; empties-- {
			b.WriteByte('\n')
		}
	}
	n.Value = b.String()
	p.skip()
	return n
}

// plainTag is the tag yaml.v3 resolves a plain scalar to (its resolve).
func plainTag(s string) string {
	if s == "" {
		return "!!null"
	}
	switch s[0] {
	case '+', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return numberTag(s)
	case '.':
		switch s {
		case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF":
			return "!!float"
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return "!!float"
		}
	case '~':
		if s == "~" {
			return "!!null"
		}
	case 'n', 'N':
		if s == "null" || s == "Null" || s == "NULL" {
			return "!!null"
		}
	case 't', 'T':
		if s == "true" || s == "True" || s == "TRUE" {
			return "!!bool"
		}
	case 'f', 'F':
		if s == "false" || s == "False" || s == "FALSE" {
			return "!!bool"
		}
	}
	return "!!str"
}

var v3Float = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

var timestampFormats = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

// numberTag resolves a plain scalar that starts with a sign or a digit.
func numberTag(s string) string {
	switch s {
	case "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return "!!float"
	}
	digits := 0
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	if digits == len(s) && digits < 19 && (s[0] != '0' || digits == 1) {
		return "!!int" // the common case: a port, a count
	}
	if digits == 4 && len(s) > 4 && s[4] == '-' {
		for _, f := range timestampFormats {
			if _, err := time.Parse(f, s); err == nil {
				return "!!timestamp"
			}
		}
	}
	// Past a timestamp, only these can make a number (Go's base prefixes
	// and hex digits, underscores, a sign, a fraction, an exponent):
	// quantities such as 50m or 64Mi are strings without parsing.
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == 'x' || c == 'o' || s[i] == '_' || c == '+' || c == '-' || c == '.') {
			return "!!str"
		}
	}
	plain := strings.ReplaceAll(s, "_", "")
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return "!!int"
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return "!!int"
	}
	if v3Float.MatchString(plain) {
		if _, err := strconv.ParseFloat(plain, 64); err == nil {
			return "!!float"
		}
	}
	for _, pre := range []string{"0b", "-0b", "0o", "-0o"} {
		if rest, ok := strings.CutPrefix(plain, pre); ok {
			base := 2
			if pre[len(pre)-1] == 'o' {
				base = 8
			}
			if pre[0] == '-' {
				rest = "-" + rest
			}
			if _, err := strconv.ParseInt(rest, base, 64); err == nil {
				return "!!int"
			}
			if _, err := strconv.ParseUint(rest, base, 64); err == nil && pre[0] != '-' {
				return "!!int"
			}
		}
	}
	return "!!str"
}

// sameParse names the first field where two trees differ, or "".
func sameParse(a, b *yaml.Node, path string) string {
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor ||
		(a.Alias == nil) != (b.Alias == nil) || a.HeadComment != b.HeadComment || a.LineComment != b.LineComment ||
		a.FootComment != b.FootComment || a.Line != b.Line || a.Column != b.Column || len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: quick %s, yaml.v3 %s", path, describeNode(a), describeNode(b))
	}
	for i := range a.Content {
		if d := sameParse(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", path, i)); d != "" {
			return d
		}
	}
	return ""
}

func describeNode(n *yaml.Node) string {
	return fmt.Sprintf("{kind %d style %d tag %q value %q head %q line %q foot %q at %d:%d, %d children}",
		n.Kind, n.Style, n.Tag, n.Value, n.HeadComment, n.LineComment, n.FootComment, n.Line, n.Column, len(n.Content))
}
