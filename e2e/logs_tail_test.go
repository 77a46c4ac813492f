package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// TestLogsTailRelay runs the logs pattern's tail engine for real: the
// adapter sidecarize injects into seed 2's widgetario web Deployment (and
// every tail adapter in the generated outputs: the widgetario demo's, the
// seed-tail golden's), its own command (busybox tail, the image's
// implementation) run against a temporary directory standing in for the
// shared emptyDir, as the adapter's user. The "app" writes JSON lines to
// /logs/app.log, the file is rotated (renamed, the app finishing a few
// writes on the old file before reopening, as loggers do), written again,
// rotated again and written again: every line must arrive on the adapter's
// stdout exactly once, in order.
func TestLogsTailRelay(t *testing.T) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is not installed (the tail engine's image is busybox): run scripts/deps.sh all, or apt-get install busybox")
	}
	input, err := os.ReadFile(filepath.Join(env.RepoRoot(), "patterns", "logs", "testdata", "seed-tail", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runSidecarize(t, input, "--native-sidecars", "true",
		"-p", "logs", "--set", "logs.files=/logs/app.log", "--set", "logs.engine=tail")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
	}{{"generated", out}}
	files, err := outputFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(env.RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		if logsHasTailAdapter(data) {
			cases = append(cases, struct {
				name string
				data []byte
			}{f, data})
		}
	}
	if len(cases) < 2 {
		t.Fatal("no tail adapter in the generated outputs (the widgetario demo has one)")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			logsTailRelay(t, busybox, c.data)
		})
	}
}

// logsHasTailAdapter: a logs-adapter container runs tail in the manifest.
func logsHasTailAdapter(data []byte) bool {
	objs, err := manifest.Parse(data)
	if err != nil {
		return false
	}
	for _, o := range objs {
		tmpl := o.PodTemplate()
		if tmpl == nil {
			continue
		}
		for _, c := range manifest.Containers(tmpl) {
			if cmd := manifest.Strings(c.M, "command"); c.Name() == "logs-adapter" && len(cmd) > 0 && cmd[0] == "tail" {
				return true
			}
		}
	}
	return false
}

// logsTailRelay is TestLogsTailRelay for one manifest with the adapter
// in its web Deployment.
func logsTailRelay(t *testing.T, busybox string, out []byte) {
	t.Helper()
	objs, err := manifest.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	var dep manifest.Object
	for _, o := range objs {
		if o.Kind() == "Deployment" {
			dep, tmpl = o, o.PodTemplate()
		}
	}
	st, err := manifest.StatusOf(dep)
	if err != nil || st == nil {
		t.Fatalf("no status on the Deployment: %v", err)
	}
	var app, adapter *manifest.Container
	for _, c := range manifest.Containers(tmpl) {
		c := c
		switch {
		case c.Name() == "logs-adapter" && st.Injected(c.Name()):
			adapter = &c
		case c.Name() == "web":
			app = &c
		}
	}
	if app == nil || adapter == nil {
		t.Fatalf("want containers web and logs-adapter:\n%s", out)
	}

	// The pod's volumes: every emptyDir is a directory under the scratch
	// root, shared by the containers that mount it (mode 0777, like the
	// kubelet's emptyDir).
	// (Not t.TempDir: its parent is private, and the adapter runs as
	// another user.)
	root, err := os.MkdirTemp("", "logs-tail-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	emptyDirs := map[string]string{}
	for _, v := range manifest.Slice(tmpl, "spec", "volumes") {
		m, _ := v.(map[string]any)
		if m["emptyDir"] == nil {
			continue
		}
		d := filepath.Join(root, manifest.Str(m, "name"))
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
		emptyDirs[manifest.Str(m, "name")] = d
	}
	// hostPath maps a path seen by a container to the scratch directory.
	hostPath := func(c *manifest.Container, p string) (string, bool) {
		best, host, ro := "", "", false
		for _, vm := range manifest.Slice(c.M, "volumeMounts") {
			m, _ := vm.(map[string]any)
			mp := path.Clean(manifest.Str(m, "mountPath"))
			d, ok := emptyDirs[manifest.Str(m, "name")]
			if ok && (p == mp || strings.HasPrefix(p, mp+"/")) && len(mp) > len(best) {
				best, ro = mp, m["readOnly"] == true
				host = filepath.Join(d, manifest.Str(m, "subPath"), strings.TrimPrefix(p, mp))
			}
		}
		_ = ro
		return host, host != ""
	}
	logFile, ok := hostPath(app, "/logs/app.log")
	if !ok {
		t.Fatalf("the app container does not write /logs/app.log on an emptyDir")
	}

	// The adapter's command, with its paths under its mounts rewritten.
	argv := append(manifest.Strings(adapter.M, "command"), manifest.Strings(adapter.M, "args")...)
	if len(argv) == 0 || argv[0] != "tail" {
		t.Fatalf("adapter command %q does not run tail", argv)
	}
	for i := 1; i < len(argv); i++ {
		if h, ok := hostPath(adapter, argv[i]); ok {
			argv[i] = h
		}
	}
	if argv[len(argv)-1] != logFile {
		t.Fatalf("the adapter tails %s, the app writes %s", argv[len(argv)-1], logFile)
	}
	cmd := exec.Command(busybox, argv...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	uid, gid := manifest.Int(adapter.M, "securityContext", "runAsUser"), manifest.Int(adapter.M, "securityContext", "runAsGroup")
	if os.Geteuid() == 0 && uid > 0 {
		// As in the pod: the adapter's user, reading files the app (root
		// here) wrote world-readable.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// Native sidecar: the adapter starts before the app creates the file.
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	var (
		mu    sync.Mutex
		lines []string
	)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), lines...)
	}
	// until waits for a written line to come out of the adapter.
	until := func(line string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for _, l := range received() {
				if l == line {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("line %s never arrived; stderr:\n%s", line, stderr.String())
	}

	seq := 0
	var want []string
	write := func(f *os.File, gen, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			seq++
			line := fmt.Sprintf(`{"@t":"2026-11-22T02:39:56Z","@mt":"request {Seq} served","Seq":%d,"Generation":%d}`, seq, gen)
			if _, err := f.WriteString(line + "\n"); err != nil {
				t.Fatal(err)
			}
			want = append(want, line)
			if i%40 == 39 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	open := func() *os.File {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	// busybox tail looks for the file by name once a second: a file must
	// be seen once before it is rotated (a log file that lives less than a
	// second between rotations can be missed: see the package doc).
	// Everything else is unsynchronised: bursts, the rename, late writes to
	// the rotated file and the new file all land between two polls.
	f := open()
	write(f, 1, 200)
	until(want[0])
	write(f, 1, 200)
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	write(f, 1, 25) // the app still holds the rotated file
	f.Close()
	f = open()
	write(f, 2, 400)
	until(want[len(want)-400])

	// A second rotation, then written again.
	write(f, 2, 100)
	if err := os.Rename(logFile, logFile+".2"); err != nil {
		t.Fatal(err)
	}
	write(f, 2, 10)
	f.Close()
	f = open()
	write(f, 3, 300)
	f.Close()
	until(want[len(want)-1])
	// A little longer: a duplicate would show up now.
	time.Sleep(2500 * time.Millisecond)

	got := received()
	count := map[string]int{}
	for _, l := range got {
		count[l]++
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("stdout line is not a JSON object: %q", l)
		}
	}
	missing, dup := 0, 0
	for _, w := range want {
		switch count[w] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 || len(got) != len(want) {
		t.Errorf("%d lines written, %d on stdout: %d missing, %d duplicated\nstderr:\n%s", len(want), len(got), missing, dup, stderr.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines out of order")
	}
	t.Logf("%d lines relayed exactly once across 2 rotations (busybox tail as uid %d); tail said:\n%s", len(got), uid, stderr.String())
}
