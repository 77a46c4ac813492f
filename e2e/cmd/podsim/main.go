// Command podsim runs every HAProxy container of a transformed workload stream
// in a simulated pod and exercises it (see package podsim). For demos:
//
//	sidecarize -c config.yaml app.yaml > out.yaml
//	sudo go run ./cmd/podsim out.yaml     # from the e2e module
//
// It prints one line per check and exits 1 if any failed. Needs root and
// haproxy.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

func main() {
	verbose := flag.Bool("v", false, "print the HAProxy output of each pod")
	haproxyBin := flag.String("haproxy", "", "the haproxy binary (default $HAPROXY_BIN, else HAProxy 3.4 when found, else 2.6)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: podsim [-v] [-haproxy BIN] FILE|-")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	var data []byte
	var err error
	if flag.Arg(0) == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(flag.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "podsim:", err)
		os.Exit(2)
	}
	pods, err := podsim.Load(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "podsim:", err)
		os.Exit(2)
	}
	if len(pods) == 0 {
		fmt.Fprintln(os.Stderr, "podsim: no workload with an HAProxy container")
		os.Exit(2)
	}
	if *haproxyBin == "" {
		h, err := env.DemoHAProxy()
		if err != nil {
			fmt.Fprintln(os.Stderr, "podsim:", err)
			os.Exit(2)
		}
		*haproxyBin = h.Path
		fmt.Printf("HAProxy %s: %s\n", h.Version, h.Path)
	}
	failed := 0
	for _, p := range pods {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		sim, err := podsim.Start(ctx, p, podsim.Options{HAProxy: *haproxyBin})
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", p.Workload, err)
			failed++
			cancel()
			continue
		}
		for _, r := range sim.Verify(ctx) {
			if r.Err != nil {
				failed++
				fmt.Printf("FAIL %s: %s: %v\n", p.Workload, r.Check, r.Err)
			} else {
				fmt.Printf("ok   %s: %s\n", p.Workload, r.Check)
			}
		}
		if *verbose {
			for _, pr := range sim.Procs {
				fmt.Printf("--- %s %s output:\n%s", p.Workload, pr.Container, pr.Output())
			}
		}
		sim.Stop()
		cancel()
	}
	if failed > 0 {
		os.Exit(1)
	}
}
