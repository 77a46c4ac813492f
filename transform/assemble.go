package transform

// Assembler builds one generated object from what several patterns of a
// workload contribute: the workload's one dashboard holds panels of the
// monitor, the ambassador and the exporter. Patterns find it with
// Workload.Assembly and add their parts to it while they inject.
type Assembler interface {
	// Assemble runs once, after every pattern has injected, with the handle
	// of the pattern that created the Assembler: what it generates is named
	// and recorded like that pattern's own objects.
	Assemble(w *Workload) error
}

// assembly is an Assembler kept for one injection, with the pattern that
// created it.
type assembly struct {
	key     string
	pattern string
	a       Assembler
}

// Assembly returns the Assembler kept under key for this injection of the
// workload, made by create the first time a pattern asks for it. A pattern
// must ask only once it applies (after any Skip), as for its other changes.
func (w *Workload) Assembly(key string, create func() Assembler) Assembler {
	for _, a := range w.assemblies {
		if a.key == key {
			return a.a
		}
	}
	a := create()
	w.assemblies = append(w.assemblies, assembly{key: key, pattern: w.pattern, a: a})
	return a
}

// assemble runs the Assemblers, in the order they were made, each as the
// pattern that made it.
func (w *Workload) assemble() error {
	for _, a := range w.assemblies {
		pw := w.scoped(a.pattern)
		if err := a.a.Assemble(pw); err != nil {
			return pw.Errorf("%v", err)
		}
	}
	return nil
}
