package transform

import "bytes"

// Join writes documents back into one stream.
func Join(docs []*Doc) ([]byte, error) {
	outs := make([][]byte, len(docs))
	errs := make([]error, len(docs))
	parallel(len(docs), func(i int) { outs[i], errs[i] = docs[i].Output() })
	var buf bytes.Buffer
	for i, d := range docs {
		out, err := outs[i], errs[i]
		if err != nil {
			return nil, err
		}
		if len(out) == 0 {
			continue
		}
		if i > 0 && buf.Len() > 0 && !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
			buf.WriteByte('\n')
		}
		if buf.Len() > 0 && d.Sep == "" {
			buf.WriteString("---\n")
		}
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
