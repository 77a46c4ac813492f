package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// profile runs monitor on every workload of a generated stream in this
// process and writes a CPU profile and a heap profile (taken at the end of
// the run, before the output is dropped): where the time and memory go.
//
//	go run ./bench -pairs 5000 profile cpu.pprof heap.pprof [stream.yaml]
//	go tool pprof -top cpu.pprof
func profile(pairs int, cpuOut, heapOut, stream string) error {
	all := patterns.All()
	cfg, err := transform.LoadConfig("bench", []byte(config), all)
	if err != nil {
		return err
	}
	data := Generate(pairs)
	if stream != "" {
		if data, err = os.ReadFile(stream); err != nil {
			return err
		}
	}
	f, err := os.Create(cpuOut)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	// The heap profile is written when the heap is largest: a sampler
	// rewrites it each time the live heap grew past its last high.
	done := make(chan struct{})
	sampled := make(chan error, 1)
	go func() { sampled <- peakHeap(heapOut, done) }()
	start := time.Now()
	e := &transform.Engine{Patterns: all, Config: cfg, Version: "bench"}
	// As the CLI writing to stdout: finished documents go to a spool.
	spool := transform.NewSpool()
	defer spool.Close()
	docs := transform.SplitStream("stream.yaml", data)
	transform.UseSpool(docs, spool)
	var out counter
	_, err = e.Run(docs)
	if err == nil {
		var s *transform.Stream
		if s, err = transform.Collect(docs); err == nil {
			_, err = s.WriteTo(&out)
		}
	}
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	close(done)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("%d pairs: %s, %d bytes in, %d bytes out; heap high %d MiB (HeapSys %d MiB)\n", pairs,
		time.Since(start).Round(time.Millisecond), len(data), out.n, peak>>20, ms.HeapSys>>20)
	return <-sampled
}

var peak uint64

// peakHeap writes a heap profile whenever the heap in use grew by a tenth
// over the last high, until done.
func peakHeap(path string, done chan struct{}) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-t.C:
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse < peak+peak/10 {
			continue
		}
		peak = ms.HeapInuse
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			return err
		}
		f.Close()
	}
}
