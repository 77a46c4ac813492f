package transform

import (
	"bytes"
	"errors"
)

// Join writes documents back into one stream. It hands each document's
// output over to the stream (the copy a finalized document kept is let go):
// it is called once per document.
func Join(docs []*Doc) ([]byte, error) {
	outs := make([][]byte, len(docs))
	errs := make([]error, len(docs))
	parallel(len(docs), func(i int) {
		d := docs[i]
		if d.joined {
			errs[i] = errors.New(d.Where() + ": internal error: joined twice")
			return
		}
		if d.final == nil && !d.changed && !d.drop && len(d.extra) == 0 {
			return // written from its bytes below, not copied first
		}
		outs[i], errs[i] = d.Output()
	})
	size := 0
	for i, out := range outs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		size += len(out) + len("\n---\n")
		if out == nil {
			size += len(docs[i].Sep) + len(docs[i].Raw)
		}
	}
	// The stream is written once into a buffer of its size; each
	// document's copy is let go as it is written.
	var buf bytes.Buffer
	buf.Grow(size)
	for i, d := range docs {
		head, out := "", outs[i]
		if out == nil && d.final == nil && !d.changed && !d.drop && len(d.extra) == 0 {
			head, out = d.Sep, d.Raw
		}
		outs[i], d.final, d.joined = nil, nil, true
		if len(head)+len(out) == 0 {
			continue
		}
		if i > 0 && buf.Len() > 0 && !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
			buf.WriteByte('\n')
		}
		if buf.Len() > 0 && d.Sep == "" {
			buf.WriteString("---\n")
		}
		buf.WriteString(head)
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

// Process is the whole filter on one input: split, run, join.
func (e *Engine) Process(source string, data []byte) ([]byte, *Report, error) {
	docs := SplitStream(source, data)
	rep, err := e.Run(docs)
	if err != nil {
		return nil, nil, err
	}
	out, err := Join(docs)
	rep.NoteReencoded(docs)
	return out, rep, err
}
