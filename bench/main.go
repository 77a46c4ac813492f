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
	runs := flag.Int("runs", 5, "runs per measurement, interleaved (the best wall time is kept)")
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

// runOnce runs a command and returns its wall time and peak RSS.
func runOnce(name string, args ...string) (result, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return result{wall: time.Since(start), rss: cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss}, nil
}

// measure runs the commands in turn, runs times over, and keeps each one's
// best wall time and highest peak RSS: interleaving means a machine that is
// slower for a while slows every command alike, not just one.
func measure(runs int, cmds [][]string) ([]result, error) {
	best := make([]result, len(cmds))
	for i := range best {
		best[i].wall = time.Hour
	}
	for r := 0; r < runs; r++ {
		for i, c := range cmds {
			res, err := runOnce(c[0], c[1:]...)
			if err != nil {
				return nil, err
			}
			best[i].wall = min(best[i].wall, res.wall)
			best[i].rss = max(best[i].rss, res.rss)
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
	fmt.Printf("stream: %d Deployment+Service pairs, %d lines, %.1f MiB; best of %d interleaved runs\n",
		pairs, bytes.Count(data, []byte("\n")), float64(len(data))/(1<<20), runs)
	res, err := measure(runs, [][]string{
		{self, "roundtrip", stream},
		{bin, "--report", "none", "-c", cfg, stream},
		{bin, "--report", "none", stream},
	})
	if err != nil {
		return err
	}
	base, mon, none := res[0], res[1], res[2]
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
