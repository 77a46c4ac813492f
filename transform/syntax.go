package transform

import (
	"fmt"
	"runtime"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// checkSyntax parses documents only to report malformed YAML, in parallel;
// the parsed trees are dropped (the documents are written from their bytes).
func checkSyntax(docs []*Doc) []error {
	if len(docs) == 0 {
		return nil
	}
	errs := make([]error, len(docs))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	next := make(chan int, len(docs))
	for i := range docs {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var n yaml.Node
				if err := yaml.Unmarshal(docs[i].Raw, &n); err != nil {
					errs[i] = fmt.Errorf("%s: malformed YAML: %w", docs[i].Where(), err)
				}
			}
		}()
	}
	wg.Wait()
	var out []error
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}
