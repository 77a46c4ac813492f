package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Doc is one document of an input stream. Raw holds its bytes exactly as read
// (without the separator line), so a document nobody changed is written back
// byte for byte, header comments included.
type Doc struct {
	Source string // file name, or "<stdin>"
	Index  int    // position in the file, from 0
	Line   int    // file line of the document's first line, from 1
	Sep    string // the separator line that preceded it ("" for the first document)
	Raw    []byte
	JSON   bool // the document was JSON; changed documents are written back as JSON

	node      *yaml.RNode // parsed on demand
	parsed    bool
	err       error  // the parse error, kept for every caller
	final     []byte // the output, once finalized (in memory)
	spooled   *chunk // the output, once finalized (in the spool)
	spool     *Spool // where finalize puts the output; nil: in memory
	finalized bool
	finalEnd  byte // the output's last byte, once finalized
	joined    bool // the output was handed to Collect
	changed   bool
	drop      bool          // generated object removed by re-injection or uninject
	extra     []*yaml.RNode // generated objects that follow this document

	kind     string // from a cheap scan; "" if unknown
	seqStyle yaml.SequenceIndentStyle

	orig     *yaml.Node    // the tree as parsed, with positions: splice (splice.go) compares the edited tree with it
	arrays   []*treeArrays // of orig and of helper containers' nodes: released when the document is finalized
	noSplice string        // why the document cannot be spliced
	// Reencoded says why a changed document was written by the YAML
	// emitter instead of spliced ("" when it was spliced or not changed).
	Reencoded string
}

// Where names the document for error messages: "app.yaml[2]".
func (d *Doc) Where() string { return fmt.Sprintf("%s[%d]", d.Source, d.Index) }

// SplitStream cuts a YAML (or JSON) file into documents at "---" lines. It does
// not parse anything: parsing is deferred until a document is known to matter.
func SplitStream(source string, data []byte) []*Doc {
	var docs []*Doc
	cur := &Doc{Source: source, Line: 1}
	start, lineNo := 0, 1
	for i := 0; i < len(data); lineNo++ {
		end := bytes.IndexByte(data[i:], '\n')
		var line []byte
		next := len(data)
		if end >= 0 {
			line = data[i : i+end]
			next = i + end + 1
		} else {
			line = data[i:]
		}
		if isSeparator(line) {
			cur.Raw = data[start:i]
			docs = append(docs, cur)
			cur = &Doc{Source: source, Index: len(docs), Sep: string(data[i:next]), Line: lineNo + 1}
			start = next
		}
		i = next
	}
	cur.Raw = data[start:]
	docs = append(docs, cur)
	// A file that opens with { or [ and has no "---" line is one JSON
	// document (or a JSON stream: several objects, refused when read); one
	// that is not JSON (unquoted keys, comments) is a YAML flow collection,
	// written back as YAML. With a "---" line it is a YAML stream whose
	// first document happens to be a flow collection, and every document
	// counts.
	if trimmed := bytes.TrimSpace(data); len(docs) == 1 && len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && jsonText(trimmed) {
		docs[0].JSON = true
		return docs
	}
	// A leading "---" leaves an empty first document: fold it away so the
	// indices users see match kubectl's.
	if len(docs) > 1 && len(docs[0].Raw) == 0 {
		docs[1].Sep = docs[0].Sep + docs[1].Sep
		docs = docs[1:]
		for i, d := range docs {
			d.Index = i
		}
	}
	// A document of the stream that is a JSON object is JSON too: a JSON
	// file's output (its object, then the generated objects after "---")
	// reads back as it was written, so a second run changes nothing.
	for _, d := range docs {
		if t := bytes.TrimSpace(d.Raw); len(t) > 0 && t[0] == '{' && json.Valid(t) {
			d.JSON = true
		}
	}
	return docs
}

// jsonText: t is one JSON value, or several (a JSON stream).
func jsonText(t []byte) bool {
	if json.Valid(t) {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err == io.EOF {
			return true
		} else if err != nil {
			return false
		}
	}
}

func isSeparator(line []byte) bool {
	line = bytes.TrimRight(line, "\r")
	return bytes.Equal(line, []byte("---")) || bytes.HasPrefix(line, []byte("--- "))
}

// Kind returns the document's kind from a line scan ("kind: X" at column 0),
// without parsing; JSON documents are parsed.
func (d *Doc) Kind() string {
	if d.kind != "" || d.parsed {
		return d.kind
	}
	if d.JSON {
		// A shallow parse: the shape is checked when the document is read.
		if n, err := yaml.Parse(string(d.Raw)); err == nil {
			d.kind = kindOf(n.YNode())
		}
		return d.kind
	}
	for _, line := range bytes.Split(d.Raw, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("kind:")) {
			v := strings.TrimSpace(string(line[len("kind:"):]))
			if i := strings.Index(v, " #"); i >= 0 {
				v = strings.TrimSpace(v[:i])
			}
			v = strings.Trim(v, `"'`)
			if !isKindName(v) {
				// A tag (kind: !!str Deployment), a flow mapping that
				// goes on (kind: Deployment, metadata: …) or an escape:
				// "" sends the document to be parsed (sortDocuments).
				return ""
			}
			d.kind = v
			return d.kind
		}
	}
	return ""
}

// isKindName: what a Kubernetes kind is spelled with (an identifier).
func isKindName(s string) bool {
	for i, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// Empty reports a document holding only comments and blank lines.
func (d *Doc) Empty() bool {
	for rest := d.Raw; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

// Node parses the document once. Documents that are not a mapping (empty, a
// bare scalar) have no node and pass through untouched.
func (d *Doc) Node() (*yaml.RNode, error) {
	if d.parsed {
		return d.node, d.err
	}
	d.parsed = true
	if d.Empty() {
		return nil, nil
	}
	doc, err := parseOne(d)
	if err != nil {
		d.err = err
		return nil, d.err
	}
	n := yaml.NewRNode(doc)
	if n.YNode().Kind != yaml.MappingNode {
		d.err = fmt.Errorf("%s: expected a Kubernetes object (a mapping), got %s", d.Where(), kindName(n.YNode().Kind))
		return nil, d.err
	}
	// Aliases and merge keys are expanded in place (objectShape): such a
	// document is written whole if it changes.
	anchors := hasAnchors(n.YNode())
	if err := objectShape(d.Where(), d.Line, n.YNode()); err != nil {
		d.err = err
		return nil, d.err
	}
	d.node = n
	if k := n.GetKind(); k != d.kind {
		// A copy: the tree's strings share one string per document
		// (quickparse.go), which the kind would keep after the tree goes.
		d.kind = strings.Clone(k)
	}
	switch {
	case anchors:
		d.noSplice = "anchors, aliases or merge keys"
	case d.JSON: // written back whole, as JSON
	case d.kind == "Service" || d.kind == "NetworkPolicy":
		// Kept as trees until the end of the run, most never changed: a
		// Service's tree is copied just before its first edit
		// (keepOriginal), after the workloads are done; a NetworkPolicy's
		// original is read again when it is written (original).
	default:
		d.orig = copyOriginal(n.YNode(), d)
	}
	return n, nil
}

// release forgets the parsed tree of an unchanged document, so that Node
// parses its bytes again; false when the tree must stay (it changed, or
// it was parsed from something else than its bytes).
func (d *Doc) release() bool {
	if !d.parsed || d.err != nil || d.changed || d.finalized || d.orig != nil {
		return false
	}
	d.node, d.parsed = nil, false
	return true
}

// keepOriginal copies the document's tree as the original the splice
// compares with, when Node did not (a Service): called before the tree's
// first edit. Without it, original parses the bytes again.
func (d *Doc) keepOriginal() {
	if d != nil && d.orig == nil && d.node != nil && d.noSplice == "" && !d.JSON && !d.finalized {
		d.orig = copyOriginal(d.node.YNode(), d)
	}
}

// original is the document's tree as parsed (positions included), for the
// splice: the copy Node took, or the bytes parsed again.
func (d *Doc) original() *yaml.Node {
	if d.orig != nil || d.noSplice != "" || d.JSON {
		return d.orig
	}
	doc, err := parseOne(d)
	if err != nil || objectShape(d.Where(), d.Line, yaml.NewRNode(doc).YNode()) != nil {
		// It parsed once; should it not again, it is written whole.
		d.noSplice = "its bytes did not parse again"
		return nil
	}
	return yaml.NewRNode(doc).YNode()
}

// parseOne parses the document's bytes, which must hold one YAML document:
// a JSON stream of several objects, or a "..." end marker followed by more,
// would otherwise be read as its first object only while kubectl applies
// them all, so the rest would pass uninjected and unchecked.
func parseOne(d *Doc) (*yaml.Node, error) {
	if n := quickParse(d.Raw); n != nil {
		if verify {
			slow, err := parseSlow(d)
			if err != nil {
				return nil, fmt.Errorf("%s: internal error: the quick YAML reader read a document yaml.v3 refuses: %w", d.Where(), err)
			}
			if diff := sameParse(n, slow, ""); diff != "" {
				return nil, fmt.Errorf("%s: internal error: the quick YAML reader and yaml.v3 read the document differently at %s", d.Where(), diff)
			}
		}
		return n, nil
	}
	return parseSlow(d)
}

// parseSlow is parseOne by yaml.v3: every document the quick reader does
// not take, and its check under verify.
func parseSlow(d *Doc) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(d.Raw))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		return nil, fmt.Errorf("%s: malformed YAML: %w", d.Where(), err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return nil, fmt.Errorf("%s: malformed YAML: more than one document without a \"---\" line between them (a JSON stream or a \"...\" end marker); separate documents with \"---\"", d.Where())
	}
	return &n, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "something else"
}

// MarkChanged records that the document's node was modified.
func (d *Doc) MarkChanged() { d.changed = true }

// Encode renders a node the way the document was written: kyaml's 2-space
// indentation, keeping the document's sequence indent style (compact
// "- " under the key, or wide, indented by two), or JSON.
func (d *Doc) Encode(n *yaml.RNode) ([]byte, error) {
	if d.JSON {
		return encodeJSON(n, readJSONStyle(d.Raw))
	}
	var buf bytes.Buffer
	if err := d.encodeTo(&buf, n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeTo appends the YAML encoding of n to buf: written directly
// (emitgen.go) when the tree has the shape of a generated object, else by
// the emitter.
func (d *Doc) encodeTo(buf *bytes.Buffer, n *yaml.RNode) error {
	if d.seqStyle == "" {
		d.seqStyle = yaml.CompactSequenceStyle
		if len(d.Raw) > 0 && wideSequences(d.Raw) { // emitgen.go
			d.seqStyle = yaml.WideSequenceStyle
		}
	}
	start := buf.Len()
	direct := !emitterOnly.Load() && writeTree(buf, n.YNode(), d.seqStyle)
	if direct {
		treesDirect.Add(1)
		if verify { // verify.go
			slow, err := d.encodeEmitter(n)
			if err == nil && !bytes.Equal(slow, buf.Bytes()[start:]) {
				err = fmt.Errorf("internal error: %s %s: the generated object's writer differs from the emitter:\n%s\n%s", n.GetKind(), n.GetName(), buf.Bytes()[start:], slow)
			}
			return err
		}
		return nil
	}
	treesEmitter.Add(1)
	out, err := d.encodeEmitter(n)
	buf.Write(out)
	return err
}

// encodeEmitter encodes n with the YAML emitter.
func (d *Doc) encodeEmitter(n *yaml.RNode) ([]byte, error) {
	plainMergeKeys(n.YNode())
	// Long block scalars are written apart (literal.go).
	var subs []literalSub
	takeLiterals(n.YNode(), &subs)
	out, err := d.emit(n)
	restore(subs)
	if err != nil || len(subs) == 0 {
		return out, err
	}
	if out, ok := putLiterals(out, subs); ok {
		return out, nil
	}
	return d.emit(n)
}

func (d *Doc) emit(n *yaml.RNode) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoderWithOptions(&buf, &yaml.EncoderOptions{SeqIndent: d.seqStyle})
	if err := enc.Encode(n.Document()); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Output is the document's bytes after the run: the original bytes when the
// document did not change (or changed back to what it was), otherwise the
// encoded node. Generated objects that follow it are appended as documents.
func (d *Doc) Output() ([]byte, error) {
	if d.finalized && len(d.extra) == 0 {
		return d.finalBytes()
	}
	var buf bytes.Buffer
	if err := d.writeOutput(&buf); err != nil || d.drop {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeOutput appends what Output returns to buf.
func (d *Doc) writeOutput(buf *bytes.Buffer) error {
	if d.drop {
		return nil
	}
	var body []byte // the document, when not encoded early (finalize)
	if !d.finalized {
		body = d.Raw
		if d.changed && d.node != nil {
			enc, err := d.encodeChanged()
			if err != nil {
				return fmt.Errorf("%s: %w", d.Where(), err)
			}
			if !bytes.Equal(enc, d.Raw) {
				body = enc
			}
		}
	}
	var final []byte
	if d.finalized {
		var err error
		if final, err = d.finalBytes(); err != nil {
			return err
		}
	}
	// One buffer of about the output's size: the generated objects are
	// written into it without regrowing it.
	size := len(final) + len(d.Sep) + len(body)
	for _, x := range d.extra {
		size += len("---\n") + treeSize(x.YNode(), 0)
	}
	buf.Grow(size)
	if d.finalized {
		buf.Write(final) // generated objects follow
	} else {
		buf.WriteString(d.Sep)
		buf.Write(body)
	}
	// Generated objects follow as further documents; for a JSON file they are
	// JSON documents after "---", which kubectl and kyaml read as a stream.
	for _, x := range d.extra {
		if buf.Len() > 0 && !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
			buf.WriteString(d.newline())
		}
		if !d.JSON && !d.crlf() {
			buf.WriteString("---\n")
			if err := d.encodeTo(buf, x); err != nil {
				return err
			}
			continue
		}
		enc, err := d.Encode(x)
		if err != nil {
			return err
		}
		if d.crlf() {
			buf.WriteString("---\r\n")
			enc = bytes.ReplaceAll(enc, []byte("\n"), []byte("\r\n"))
		} else {
			buf.WriteString("---\n")
		}
		buf.Write(enc)
	}
	return nil
}

// encodeChanged writes a changed document: its own bytes with the edits
// spliced in (splice.go), or, for a shape splicing does not handle, the
// whole document from the emitter (Reencoded says why).
func (d *Doc) encodeChanged() ([]byte, error) {
	orig := d.original()
	d.Reencoded = d.noSplice
	if orig != nil {
		out, err := splice(d.Raw, d.Line, orig, d.node.YNode())
		var es errSplice
		if !errors.As(err, &es) {
			return out, err
		}
		d.Reencoded = es.Error()
	}
	enc, err := d.Encode(d.node)
	if err != nil {
		return nil, err
	}
	if d.crlf() {
		enc = bytes.ReplaceAll(enc, []byte("\n"), []byte("\r\n"))
	}
	// Keep the document's own ending: no newline added to a file that
	// had none at its end.
	if !bytes.HasSuffix(d.Raw, []byte("\n")) {
		enc = bytes.TrimRight(enc, "\r\n")
	}
	return enc, nil
}

// newline is the document's line ending.
func (d *Doc) newline() string { return lineEnding(d.Raw) }

// crlf reports a document whose lines end in CRLF.
func (d *Doc) crlf() bool { return d.newline() == "\r\n" }

// lineEnding is the line ending of b's first line: "\r\n" or "\n".
func lineEnding(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i > 0 && b[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// finalize computes the document's output now and releases its tree, so a
// large stream does not hold every document's nodes at once. The generated
// objects that follow it are written now too, unless one is a
// ServiceMonitor or PodMonitor: those stay nodes until the Services are
// done (dedupeMonitors keeps one of two identical ones).
func (d *Doc) finalize(extra []*yaml.RNode) error {
	late := false
	for _, x := range extra {
		if k := x.GetKind(); k == "ServiceMonitor" || k == "PodMonitor" {
			late = true
		}
	}
	if !late {
		d.extra = extra
	}
	buf := outputBuffers.Get().(*bytes.Buffer)
	defer putOutputBuffer(buf)
	buf.Reset()
	if err := d.writeOutput(buf); err != nil {
		return err
	}
	out := buf.Bytes()
	// Kept until the stream is written: in the spool, or in memory.
	d.finalized = true
	if len(out) > 0 {
		d.finalEnd = out[len(out)-1]
	}
	if d.spool != nil && len(out) > 0 {
		c, err := d.spool.put(out)
		if err != nil {
			return fmt.Errorf("%s: writing the output to a temporary file: %w", d.Where(), err)
		}
		d.spooled = &c
	} else {
		d.final = append([]byte(nil), out...)
	}
	for _, a := range d.arrays {
		a.release()
	}
	d.node, d.orig, d.arrays, d.extra = nil, nil, nil, nil
	if late {
		d.extra = extra
	}
	return nil
}

// outputBuffers are finalize's buffers, used again once their bytes are
// in the spool or copied.
var outputBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putOutputBuffer(b *bytes.Buffer) {
	if b.Cap() <= 1<<22 {
		outputBuffers.Put(b)
	}
}

// finalBytes is the output finalize computed.
func (d *Doc) finalBytes() ([]byte, error) {
	if d.spooled != nil {
		return d.spool.read(*d.spooled)
	}
	return d.final, nil
}

// plainMergeKeys drops the explicit !!merge tag the parser puts on "<<"
// keys, which the encoder would otherwise write out ("!!merge <<: *base"):
// a merge key comes back as it was written.
func plainMergeKeys(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Tag == "!!merge" && k.Value == "<<" {
				k.Tag = ""
			}
		}
	}
	for _, c := range n.Content {
		plainMergeKeys(c)
	}
}
