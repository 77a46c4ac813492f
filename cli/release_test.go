package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/sidecarize/sidecarize/cli"
)

// openPTY opens a pseudo-terminal pair: the terminal side is what a user's
// shell gives sidecarize as stdin.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// With no file and a terminal on stdin, sidecarize says what it waits for
// instead of waiting silently; then it reads the terminal to Ctrl-D.
func TestStdinTerminalHint(t *testing.T) {
	master, tty := openPTY(t)
	go func() { // drain the echo
		buf := make([]byte, 4096)
		for {
			if _, err := master.Read(buf); err != nil {
				return
			}
		}
	}()
	if _, err := master.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typed}\n\x04")); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- cli.Run([]string{"sidecarize"}, tty, &out, &errb) }()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sidecarize did not end at Ctrl-D")
	}
	if !strings.Contains(errb.String(), "reading manifests from stdin (end with Ctrl-D)") {
		t.Errorf("no hint on stderr: %q", errb.String())
	}
	if !strings.Contains(out.String(), "name: typed") {
		t.Errorf("stdout %q lacks what was typed", out.String())
	}

	// Not a terminal (a pipe, a file): no hint.
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	errb.Reset()
	if code := cli.Run([]string{"sidecarize"}, f, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Errorf("stdin /dev/null: exit %d, stderr %q; want 0 and nothing", code, errb.String())
	}
}

// The starter config of `sidecarize init`, once it names a workload, injects
// it with what it says (monitor with a PrometheusRule).
func TestInitConfigInjects(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sidecarize.yaml")
	var out, errb bytes.Buffer
	if code := cli.Run([]string{"sidecarize", "init", cfg}, nil, &out, &errb); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("names: [my-app]")) {
		t.Fatalf("starter config lacks the my-app placeholder:\n%s", b)
	}
	if err := os.WriteFile(cfg, bytes.ReplaceAll(b, []byte("my-app"), []byte("api")), 0o644); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(app, []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - {name: api, image: "nginx:1.27", ports: [{name: http, containerPort: 8080}]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := cli.Run([]string{"sidecarize", "-c", cfg, app}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"name: monitor-proxy", "kind: PrometheusRule"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
