package transform

import (
	"fmt"
	"strings"
	"testing"
)

// A panic in a parallel worker is raised again on the caller's goroutine,
// where a recover (the command line's last guard) sees it.
func TestParallelPanic(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("no panic")
		}
		if !strings.Contains(fmt.Sprint(r), "worker 3") {
			t.Fatalf("recovered %v", r)
		}
	}()
	parallel(8, func(i int) {
		if i == 3 {
			panic("worker 3")
		}
	})
}
