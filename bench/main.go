// Command bench measures sidecarize against a plain kyaml read/write round
// trip of the same stream (kio.ByteReader → kio.ByteWriter), in one run, and
// prints ratios: wall time (best of N) and peak RSS of separate processes.
//
//	go run ./bench            # or: make bench
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// kustomizePatch is the peer: a strategic-merge patch adding one sidecar to
// every Deployment, what users write by hand.
const kustomizePatch = `resources: [stream.yaml]
patches:
- target: {kind: Deployment}
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: any}
    spec:
      template:
        spec:
          containers:
          - name: monitor-proxy
            image: haproxy:3.4-alpine
            ports: [{name: mon-proxy, containerPort: 9080}]
`

func main() {
	pairs := flag.Int("pairs", 5000, "Deployment + Service pairs in the stream")
	runs := flag.Int("runs", 3, "runs per measurement, interleaved (the best wall time is kept)")
	sizes := flag.String("curve", "500,1000,5000,20000,50000", "pairs at each point of the growth curve (sidecarize best of -runs, the others one run; empty: no curve)")
	home, _ := os.UserHomeDir()
	peer := flag.String("kustomize", filepath.Join(home, ".cache/sidecarize/bin/kustomize-v5.8.2"), "the kustomize binary of the peer row (absent: no peer row)")
	flag.Parse()
	if flag.Arg(0) == "profile" {
		if err := profile(*pairs, flag.Arg(1), flag.Arg(2), flag.Arg(3)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if flag.Arg(0) == "realshape" || flag.Arg(0) == "synthetic" { // a stream on stdout
		data, err := Generate(*pairs), error(nil)
		if flag.Arg(0) == "realshape" {
			data, _, _, err = RealShape(*pairs)
		}
		if err == nil {
			_, err = os.Stdout.Write(data)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if flag.Arg(0) == "roundtrip" {
		if err := roundTrip(flag.Arg(1)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(*pairs, *runs, *sizes, *peer); err != nil {
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
	r, _, err := runCounted(0, name, args...)
	return r, err
}

// errStopped: the command ran past its time limit and was stopped.
var errStopped = errors.New("stopped")

// measurer is the small program every measured command runs under
// (bench/measure: why a separate process), built by run.
var measurer string

// runCounted runs a command, stopped after limit (0: none), and returns its
// wall time, peak RSS and the bytes it wrote on stdout, as measured by
// bench/measure.
func runCounted(limit time.Duration, name string, args ...string) (result, int64, error) {
	cmd := exec.Command(measurer, append([]string{"-limit", limit.String(), "--", name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
			return result{}, 0, errStopped
		}
		return result{}, 0, fmt.Errorf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	var wall, rss, n int64
	if _, err := fmt.Sscan(string(out), &wall, &rss, &n); err != nil {
		return result{}, 0, fmt.Errorf("measure printed %q: %v", out, err)
	}
	return result{wall: time.Duration(wall), rss: rss}, n, nil
}

// counter counts what is written to it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
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

func run(pairs, runs int, sizes, peer string) error {
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
	measurer = filepath.Join(dir, "measure")
	if err := goBuild(measurer, "./bench/measure"); err != nil {
		return err
	}
	bin := os.Getenv("SIDECARIZE_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "sidecarize")
		if err := goBuild(bin, "./cmd/sidecarize"); err != nil {
			return err
		}
	}
	fmt.Printf("stream: %d Deployment+Service pairs, %d lines, %.1f MiB; best of %d interleaved runs\n",
		pairs, bytes.Count(data, []byte("\n")), float64(len(data))/(1<<20), runs)
	if err := table(self, bin, cfg, stream, runs); err != nil {
		return err
	}
	real, workloads, copies, err := RealShape(pairs)
	if err != nil {
		return fmt.Errorf("real-shape stream: %w", err)
	}
	realStream := filepath.Join(dir, "real.yaml")
	if err := os.WriteFile(realStream, real, 0o644); err != nil {
		return err
	}
	fmt.Printf("\nreal-shape stream: argo-rollouts dashboard-install.yaml + kube-state-metrics examples/standard as published,\n"+
		"repeated in %d namespaces: %d workloads, %d documents, %.1f MiB; best of %d interleaved runs\n",
		copies, workloads, bytes.Count(real, []byte("\n---\n")), float64(len(real))/(1<<20), runs)
	if err := table(self, bin, cfg, realStream, runs); err != nil {
		return err
	}
	if sizes == "" {
		return nil
	}
	return curve(dir, self, bin, cfg, sizes, peer, runs)
}

// goBuild builds a main package of this module into out.
func goBuild(out, pkg string) error {
	build := exec.Command("go", "build", "-o", out, pkg)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	return nil
}

// table measures the kyaml round trip, monitor on every workload and
// nothing selected on one stream, interleaved, and prints them as ratios.
func table(self, bin, cfg, stream string, runs int) error {
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
	row("sidecarize, monitor on every one", mon, "target: time <= 0.3x, RSS <= 0.3x")
	row("sidecarize, nothing selected", none, "target: time <= 0.2x")
	n, err := reencoded(bin, cfg, stream)
	if err != nil {
		return err
	}
	fmt.Printf("documents written whole by the emitter (not spliced): %d\n", n)
	return nil
}

// reencoded counts the documents a run could not splice (--report json).
func reencoded(bin, cfg, stream string) (int, error) {
	cmd := exec.Command(bin, "--report", "json", "-c", cfg, stream)
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%v\n%s", err, stderr.String())
	}
	var rep struct{ Reencoded []json.RawMessage }
	if err := json.Unmarshal(stderr.Bytes(), &rep); err != nil {
		return 0, err
	}
	return len(rep.Reencoded), nil
}

// curve measures growth: sidecarize (monitor on every workload, best of
// runs taken in rounds over the sizes), the kyaml round trip and the
// kustomize peer (one run each) at each size. Peak RSS is set against the bytes read and written, wall time
// against the 5,000-pair row (else the first). A command stopped after its
// limit (limits) is not run at the larger sizes.
func curve(dir, self, bin, cfg, sizes, peer string, runs int) error {
	// The peer is stopped after a minute (it takes longer at 5,000 pairs);
	// the kyaml round trip, the baseline, gets three (about one at 50,000).
	limits := map[string]time.Duration{"kustomize": time.Minute, "roundtrip": 3 * time.Minute}
	// What the process takes before it reads anything: its binary and
	// runtime (sidecarize --version).
	idle, err := runOnce(bin, "--version")
	if err != nil {
		return err
	}
	if _, err := os.Stat(peer); err != nil {
		peer = ""
	}
	fmt.Printf("\ngrowth\n%-8s %9s %9s | %-35s | %-20s | %s\n", "pairs", "in MiB", "out MiB",
		"sidecarize: wall, RSS, RSS/(in+out)", "kyaml round trip", "kustomize patch (peer)")
	type row struct {
		pairs   int
		stream  string
		in, out int64
		mon     result
		rt, kz  string
	}
	var rows []*row
	for _, f := range strings.Split(sizes, ",") {
		pairs, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-curve: %v", err)
		}
		sub := filepath.Join(dir, fmt.Sprint(pairs))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		stream := filepath.Join(sub, "stream.yaml")
		data := Generate(pairs)
		if err := os.WriteFile(stream, data, 0o644); err != nil {
			return err
		}
		rows = append(rows, &row{pairs: pairs, stream: stream, in: int64(len(data)), mon: result{wall: time.Hour}})
	}
	// sidecarize: runs rounds over every size in turn (interleaved, as the
	// tables: the growth ratio divides two sizes' times, so a slow minute
	// of the machine must not fall on one size only), keeping each size's
	// best wall time and highest peak RSS.
	for i := 0; i < runs; i++ {
		for _, r := range rows {
			m, n, err := runCounted(0, bin, "--report", "none", "-c", cfg, r.stream)
			if err != nil {
				return err
			}
			r.mon.wall, r.mon.rss, r.out = min(r.mon.wall, m.wall), max(r.mon.rss, m.rss), n
		}
	}
	var base time.Duration
	for i, r := range rows {
		if i == 0 || r.pairs == 5000 {
			base = r.mon.wall
		}
	}
	// The round trip and the peer, one run each, smallest size first.
	slow := map[string]bool{}
	for _, r := range rows {
		one := func(name string, args ...string) string {
			if slow[name] {
				return "(not run)"
			}
			m, _, err := runCounted(limits[name], args[0], args[1:]...)
			if err == errStopped {
				slow[name] = true
				return fmt.Sprintf("stopped at %s", limits[name])
			}
			if err != nil {
				return "error: " + err.Error()[:min(60, len(err.Error()))]
			}
			return fmt.Sprintf("%8s %6d MiB", m.wall.Round(time.Millisecond), m.rss/1024)
		}
		r.rt = one("roundtrip", self, "roundtrip", r.stream)
		r.kz = "(no kustomize)"
		if peer != "" {
			sub := filepath.Dir(r.stream)
			if err := os.WriteFile(filepath.Join(sub, "kustomization.yaml"), []byte(kustomizePatch), 0o644); err != nil {
				return err
			}
			r.kz = one("kustomize", peer, "build", sub)
		}
		fmt.Fprintf(os.Stderr, "bench: %d pairs measured\n", r.pairs)
	}
	for _, r := range rows {
		inOut := float64(r.in + r.out)
		fmt.Printf("%-8d %9.1f %9.1f | %8s %6d MiB %5.2fx %5.1fx | %-20s | %s\n", r.pairs, float64(r.in)/(1<<20), float64(r.out)/(1<<20),
			r.mon.wall.Round(time.Millisecond), r.mon.rss/1024, float64(r.mon.rss*1024)/inOut, float64(r.mon.wall)/float64(base), r.rt, r.kz)
	}
	fmt.Printf("(sidecarize columns, best of %d runs interleaved across the sizes: wall, peak RSS, peak RSS / (input + output bytes), wall / wall at 5,000 pairs, else at the first size;\n", runs)
	fmt.Printf(" sidecarize --version alone: %d MiB peak RSS)\n", idle.rss/1024)
	fmt.Printf(" targets: 5k -> 50k <= 11x the time, RSS <= 3x (input + output) at 5k, 20k and 50k; kustomize is stopped after %s, the round trip after %s)\n",
		limits["kustomize"], limits["roundtrip"])
	return nil
}
