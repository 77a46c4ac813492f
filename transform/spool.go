package transform

import (
	"io"
	"os"
	"sync/atomic"
)

// Spool keeps finished documents' outputs in a temporary file instead of in
// memory, for a run whose output is written to a stream at the end: memory
// then holds the input and what is still being worked on, not the output
// (which, with a dashboard per workload, is many times the input). Nothing
// is written to the output before the whole run succeeded either way.
//
// The file is removed as soon as it is created (where the system allows
// an open file to be removed) and closed by Close. A run without a spool
// (NewSpool failed, or the caller needs the output as bytes) keeps outputs
// in memory.
type Spool struct {
	f    *os.File
	size atomic.Int64
}

// chunk is one document's output in the spool.
type chunk struct{ off, n int64 }

// NewSpool creates a spool in the temporary directory, or returns nil when
// none can be created (a read-only file system): outputs stay in memory.
func NewSpool() *Spool {
	f, err := os.CreateTemp("", "sidecarize-spool-*")
	if err != nil {
		return nil
	}
	_ = os.Remove(f.Name()) // else removed by Close (a system that keeps open files)
	return &Spool{f: f}
}

// put appends b (from any goroutine).
func (s *Spool) put(b []byte) (chunk, error) {
	n := int64(len(b))
	off := s.size.Add(n) - n
	_, err := s.f.WriteAt(b, off)
	return chunk{off, n}, err
}

// read returns a chunk's bytes.
func (s *Spool) read(c chunk) ([]byte, error) {
	b := make([]byte, c.n)
	_, err := s.f.ReadAt(b, c.off)
	return b, err
}

// writeTo copies a chunk to w through buf (reused across chunks: an
// io.Copy per chunk would allocate a buffer for each).
func (s *Spool) writeTo(w io.Writer, c chunk, buf []byte) error {
	for c.n > 0 {
		b := buf[:min(int64(len(buf)), c.n)]
		if _, err := s.f.ReadAt(b, c.off); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		c.off, c.n = c.off+int64(len(b)), c.n-int64(len(b))
	}
	return nil
}

// Close closes and removes the file.
func (s *Spool) Close() error {
	if s == nil {
		return nil
	}
	err := s.f.Close()
	_ = os.Remove(s.f.Name()) // already gone where the system allowed it
	return err
}

// UseSpool makes the run on docs keep finished outputs in s (nil: in
// memory).
func UseSpool(docs []*Doc, s *Spool) {
	for _, d := range docs {
		d.spool = s
	}
}
