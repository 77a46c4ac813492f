// Command measure runs one command and prints its wall time, peak RSS and
// the bytes it wrote on stdout, as "wall_ns rss_kib bytes" on its own
// stdout (the command's stderr passes through).
//
//	measure [-limit 1m] -- command args...
//
// The bench runs every measured command through this small process rather
// than starting it itself: on Linux a child's peak RSS (getrusage's
// ru_maxrss) starts at the RSS of the process that started it, because
// Go's os/exec shares the parent's memory until exec (CLONE_VM) and the
// kernel carries the old memory's high-water mark into the new program.
// The bench holds generated streams of tens of MiB, which would be counted
// as the measured command's; this process holds a few MiB.
//
// Exit status: 0, or 3 when the command ran past -limit and was stopped,
// or 1 when it failed (its stderr shows why).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	limit := flag.Duration("limit", 0, "stop the command after this long (0: never)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: measure [-limit D] -- command args...")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	var out counter
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *limit > 0 {
		t := time.AfterFunc(*limit, func() { cmd.Process.Kill() })
		defer t.Stop()
	}
	err := cmd.Wait()
	wall := time.Since(start)
	if err != nil {
		if *limit > 0 && wall >= *limit {
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(wall.Nanoseconds(), cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss, out.n)
}

// counter counts what is written to it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
