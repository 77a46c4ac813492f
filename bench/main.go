// Command bench measures sidecarize against a plain kyaml read/write round
// trip of the same stream (kio.ByteReader → kio.ByteWriter), in one run, and
// prints ratios: wall time (best of N) and peak RSS of separate processes.
//
//	go run ./bench            # or: make bench
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

const config = `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: bench}
spec:
  rules:
    - monitor: {}
`

func main() {
	pairs := flag.Int("pairs", 5000, "Deployment + Service pairs in the stream")
	runs := flag.Int("runs", 3, "runs per measurement (best is kept)")
	flag.Parse()
	if flag.Arg(0) == "roundtrip" {
		if err := roundTrip(flag.Arg(1)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(*pairs, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// roundTrip is the baseline: what any kyaml-based tool pays to read and
// write the stream.
func roundTrip(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	nodes, err := (&kio.ByteReader{Reader: f}).Read()
	if err != nil {
		return err
	}
	return kio.ByteWriter{Writer: io.Discard}.Write(nodes)
}

type result struct {
	wall time.Duration
	rss  int64 // KiB
}

func measure(runs int, name string, args ...string) (result, error) {
	best := result{wall: time.Hour}
	for i := 0; i < runs; i++ {
		cmd := exec.Command(name, args...)
		cmd.Stdout = io.Discard
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return result{}, fmt.Errorf("%s %v: %v\n%s", name, args, err, stderr.String())
		}
		wall := time.Since(start)
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
		if wall < best.wall {
			best.wall = wall
		}
		if rss > best.rss {
			best.rss = rss
		}
	}
	return best, nil
}

func run(pairs, runs int) error {
	dir, err := os.MkdirTemp("", "sidecarize-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	stream := filepath.Join(dir, "stream.yaml")
	data := Generate(pairs)
	if err := os.WriteFile(stream, data, 0o644); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "monitor.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bin := os.Getenv("SIDECARIZE_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "sidecarize")
		build := exec.Command("go", "build", "-o", bin, "./cmd/sidecarize")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building sidecarize: %w", err)
		}
	}
	fmt.Printf("stream: %d Deployment+Service pairs, %d lines, %.1f MiB; best of %d runs\n",
		pairs, bytes.Count(data, []byte("\n")), float64(len(data))/(1<<20), runs)
	base, err := measure(runs, self, "roundtrip", stream)
	if err != nil {
		return err
	}
	mon, err := measure(runs, bin, "--report", "none", "-c", cfg, stream)
	if err != nil {
		return err
	}
	none, err := measure(runs, bin, "--report", "none", stream)
	if err != nil {
		return err
	}
	fmt.Printf("%-34s %10s %8s %10s %8s\n", "", "wall", "ratio", "peak RSS", "ratio")
	row := func(name string, r result, target string) {
		fmt.Printf("%-34s %10s %7.2fx %7d MiB %7.2fx   %s\n", name, r.wall.Round(time.Millisecond),
			float64(r.wall)/float64(base.wall), r.rss/1024, float64(r.rss)/float64(base.rss), target)
	}
	row("kyaml round trip (baseline)", base, "")
	row("sidecarize, monitor on every one", mon, "target: time <= 0.6x, RSS <= 0.5x")
	row("sidecarize, nothing selected", none, "target: time <= 0.2x, RSS <= 0.5x")
	return nil
}
