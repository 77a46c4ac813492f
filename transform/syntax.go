package transform

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// checkSyntax parses documents only to report malformed YAML and duplicate
// keys, in parallel;
// the parsed trees are dropped (the documents are written from their bytes).
func checkSyntax(docs []*Doc) []error {
	if len(docs) == 0 {
		return nil
	}
	errs := make([]error, len(docs))
	parallel(len(docs), func(i int) {
		n, err := parseOne(docs[i])
		if err != nil {
			errs[i] = err
			return
		}
		// Duplicate keys are refused in every document, read or not
		// (shape.go).
		shiftLines(n, docs[i].Line-1)
		if se := checkKeys(n, ""); se != nil {
			errs[i] = shapeErr(docs[i].Where(), objectNode(n), se)
		}
	})
	var out []error
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// parallel runs fn(0..n-1) on every core. Documents are independent until
// Services are matched, so parsing, injecting and encoding them is spread
// over the cores (each fn touches only its own index).
func parallel(n int, fn func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	// A panic in a worker would end the process past any recover of the
	// caller's: it is carried back and raised again on the caller's
	// goroutine, where the command line's last guard reports it.
	var (
		once   sync.Once
		caught any
	)
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					once.Do(func() { caught = workerPanic{r, debug.Stack()} })
				}
			}()
			for i := range next {
				fn(i)
			}
		}()
	}
	wg.Wait()
	if caught != nil {
		panic(caught)
	}
}

// workerPanic is a panic of a parallel worker, with the worker's stack.
type workerPanic struct {
	value any
	stack []byte
}

func (p workerPanic) String() string { return fmt.Sprintf("%v\n[worker stack]\n%s", p.value, p.stack) }
