package demorun

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
	"github.com/sidecarize/sidecarize/e2e/logsim"
)

// logs shows v2's logging: go-httpbin's event lines go to the file the api
// container writes, and the api pod's logs adapter — the generated config
// under the real Fluent Bit, as its container runs (logsim) — turns them
// into the records it writes to stdout. Without Fluent Bit it shows the
// raw line and says so.
func (d *demo) logs(ctx context.Context) error {
	var lines []string
	for _, l := range strings.Split(d.httpbinLog.String(), "\n") {
		if strings.Contains(l, `"route":"/unstable"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	lines = lines[:1]
	bin, err := logsim.FluentBit()
	if err != nil {
		d.detail("v2 logging: the API's event log, JSON lines the logs adapter ships to stdout (Fluent Bit is not run: %v):", err)
		d.detail("  %s", lines[0])
		return nil
	}
	recs, err := adapterRecords(ctx, d.opt.Dir, "Deployment/api", bin, lines)
	if err != nil {
		return fmt.Errorf("v2 logging: %w", err)
	}
	d.rep.LogRecords = recs
	d.detail("v2 logging: the API's event line, as its logs adapter (the generated config under Fluent Bit, its mounts, user and read-only root) writes it to stdout:")
	for _, r := range recs {
		d.detail("  %s", r)
	}
	return nil
}

// adapterRecords runs the fluent-bit adapter of workload (in the manifests
// of dir) over lines written to its log file, and returns its stdout.
func adapterRecords(ctx context.Context, dir, workload, bin string, lines []string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var pod *logsim.Pod
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		pods, err := logsim.Find(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, p := range pods {
			if p.Workload == workload {
				pod = p
			}
		}
	}
	if pod == nil {
		return nil, fmt.Errorf("no fluent-bit adapter in %s's pod", workload)
	}
	root, err := os.MkdirTemp("", "demo-logs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	sb, err := logsim.NewSandbox(root, bin, pod)
	if err != nil {
		return nil, err
	}
	file := strings.Split(manifest.Str(pod.Input(), "path"), ",")[0]
	host, err := sb.AppFile(file)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(host, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	cmd := sb.Command(pod.Argv()...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	recs := make(chan string)
	go func() {
		defer close(recs)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			recs <- sc.Text()
		}
	}()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		for range recs {
		}
		cmd.Wait()
	}()
	var got []string
	timeout := time.After(15 * time.Second)
	for len(got) < len(lines) {
		select {
		case r, ok := <-recs:
			if !ok {
				return nil, fmt.Errorf("fluent-bit exited: %s", stderr.String())
			}
			got = append(got, r)
		case <-timeout:
			return nil, fmt.Errorf("no record from fluent-bit within 15s: %s", stderr.String())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return got, nil
}
