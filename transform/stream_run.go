package transform

import (
	"bytes"
	"errors"
	"io"
)

// Stream is one input's output: its documents in order, each as bytes or
// as a chunk of the run's spool, with the separators between them.
type Stream struct {
	spool  *Spool
	pieces []piece
	last   byte // the last byte (0 when empty), as Collect put it together
}

type piece struct {
	text  []byte // a separator, a document's bytes
	chunk *chunk // or a document's output in the spool
}

// Collect assembles the documents' outputs into a Stream, computing every
// output not computed yet, so that an error comes before anything is
// written. It hands each document's output over to the stream (the copy a
// finalized document kept is let go): it is called once per document.
func Collect(docs []*Doc) (*Stream, error) {
	outs := make([][]byte, len(docs))
	errs := make([]error, len(docs))
	parallel(len(docs), func(i int) {
		d := docs[i]
		if d.joined {
			errs[i] = errors.New(d.Where() + ": internal error: joined twice")
			return
		}
		if d.spooled != nil && len(d.extra) == 0 || d.verbatim() {
			return // written from the spool or its bytes, not copied first
		}
		outs[i], errs[i] = d.Output()
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Stream{}
	written := false // anything so far
	var last byte    // the last byte written so far
	for i, d := range docs {
		p, head := piece{text: outs[i]}, ""
		size := len(p.text)
		switch {
		case d.verbatim():
			p.text, head = d.Raw, d.Sep
			size = len(head) + len(p.text)
		case d.spooled != nil && len(d.extra) == 0:
			p.chunk, s.spool, size = d.spooled, d.spool, int(d.spooled.n)
		}
		end := d.finalEnd
		switch {
		case len(p.text) > 0:
			end = p.text[len(p.text)-1]
		case p.chunk == nil && head != "":
			end = head[len(head)-1]
		}
		outs[i], d.final, d.spooled, d.joined = nil, nil, nil, true
		if size == 0 {
			continue // nothing to write
		}
		var sep []byte
		if i > 0 && written && last != '\n' {
			sep = append(sep, '\n')
		}
		if written && d.Sep == "" {
			sep = append(sep, "---\n"...)
		}
		if sep = append(sep, head...); len(sep) > 0 {
			s.pieces = append(s.pieces, piece{text: sep})
		}
		if p.chunk != nil || len(p.text) > 0 {
			s.pieces = append(s.pieces, p)
		}
		written, last = true, end
	}
	s.last = last
	if len(docs) > 0 && last == '\n' && openEnd(docs[len(docs)-1]) {
		if err := s.trimNewline(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// openEnd reports a document that ends its file without a final newline.
// The output ends as the input did: the generated objects that follow a
// workload in the last document, or an earlier document that ends the
// output once the last is dropped (uninject), keep it so, and uninject
// gives the input back byte for byte.
func openEnd(d *Doc) bool {
	end := d.Raw
	if len(end) == 0 {
		end = []byte(d.Sep)
	}
	return len(end) > 0 && end[len(end)-1] != '\n'
}

// trimNewline cuts the stream's final line ending ("\n" or "\r\n").
func (s *Stream) trimNewline() error {
	i := len(s.pieces) - 1
	tail, err := s.tail(s.pieces[i], 2)
	if err != nil {
		return err
	}
	cut := 1
	if len(tail) == 2 && tail[0] == '\r' {
		cut = 2
	}
	p := &s.pieces[i]
	if p.chunk != nil {
		p.chunk = &chunk{p.chunk.off, p.chunk.n - int64(cut)}
	} else {
		p.text = p.text[:len(p.text)-cut]
	}
	if p.chunk == nil && len(p.text) == 0 || p.chunk != nil && p.chunk.n == 0 {
		s.pieces = s.pieces[:i]
	}
	s.last = 0
	if n := len(s.pieces); n > 0 {
		b, err := s.tail(s.pieces[n-1], 1)
		if err != nil {
			return err
		}
		s.last = b[len(b)-1]
	}
	return nil
}

// tail is the last n bytes of a piece (all of a shorter one).
func (s *Stream) tail(p piece, n int64) ([]byte, error) {
	if p.chunk == nil {
		return p.text[len(p.text)-int(min(n, int64(len(p.text)))):], nil
	}
	k := min(n, p.chunk.n)
	return s.spool.read(chunk{p.chunk.off + p.chunk.n - k, k})
}

// verbatim: the document is written back from its bytes.
func (d *Doc) verbatim() bool {
	return !d.finalized && !d.changed && !d.drop && len(d.extra) == 0
}

// WriteTo writes the stream to w.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	var n int64
	var buf []byte
	for _, p := range s.pieces {
		if p.chunk != nil {
			if buf == nil {
				buf = make([]byte, 256<<10)
			}
			if err := s.spool.writeTo(w, *p.chunk, buf); err != nil {
				return n, err
			}
			n += p.chunk.n
			continue
		}
		m, err := w.Write(p.text)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Bytes is the stream in memory.
func (s *Stream) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	_, err := s.WriteTo(&buf)
	return buf.Bytes(), err
}

// Join is Collect, then Bytes.
func Join(docs []*Doc) ([]byte, error) {
	s, err := Collect(docs)
	if err != nil {
		return nil, err
	}
	return s.Bytes()
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

// Empty: the stream has nothing but white space.
func (s *Stream) Empty() bool {
	for _, p := range s.pieces {
		if p.chunk != nil || len(bytes.TrimSpace(p.text)) > 0 {
			return false
		}
	}
	return true
}

// OpensWithSeparator reports whether the stream's first line is a "---"
// line (as SplitStream cuts documents): a line such as "---x: 1" is not.
func (s *Stream) OpensWithSeparator() bool {
	line, _, _ := bytes.Cut(s.head(64), []byte("\n"))
	return isSeparator(line)
}

// head is at least the stream's first n bytes (all of a shorter stream).
func (s *Stream) head(n int) []byte {
	var head []byte
	for _, p := range s.pieces {
		if len(head) >= n {
			break
		}
		text := p.text
		if p.chunk != nil {
			c := *p.chunk
			c.n = min(c.n, int64(n))
			var err error
			if text, err = s.spool.read(c); err != nil {
				return nil
			}
		}
		head = append(head, text...)
	}
	return head
}

// Last is the stream's last byte (0 when it is empty).
func (s *Stream) Last() byte { return s.last }
