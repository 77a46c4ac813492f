// Command demo runs seed 1's v3 pods for real in the pod simulator and
// prints what the talk showed (`make demo`). See package demorun.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/sidecarize/sidecarize/e2e/demorun"
)

func main() {
	var opt demorun.Options
	flag.StringVar(&opt.Dir, "dir", "", "the v3 manifests (default demo/productionise/v3)")
	flag.StringVar(&opt.Initial, "initial", "", "the initial manifests (default demo/productionise/initial)")
	flag.IntVar(&opt.Views, "views", 20, "page views per step")
	flag.StringVar(&opt.HAProxy.Path, "haproxy", "", "the haproxy binary (default $HAPROXY_BIN, else HAProxy 3.4 when found, else 2.6)")
	flag.StringVar(&opt.Prometheus, "prometheus", "", "the prometheus server binary (default: prometheus on PATH)")
	flag.StringVar(&opt.Chart, "chart", "", "where to write the SVG chart of the page views (default .cache/demo/breaker.svg)")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel2()
	if _, err := demorun.Run(ctx, opt); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
