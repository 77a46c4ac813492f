// Package cluster runs a real etcd and kube-apiserver on loopback for the e2e
// suite: no controller-manager, no kubelet, just the API server with its
// validation and admission (PodSecurity included).
package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/proc"
)

// Cluster is a running etcd + kube-apiserver pair.
type Cluster struct {
	Dir        string // scratch directory (data, certs, logs)
	Server     string // https://127.0.0.1:<port>
	Token      string // bearer token of a system:masters user
	Kubeconfig string // path of a kubeconfig for Server/Token
	KubectlBin string

	procs []*exec.Cmd
	logs  []string
}

// Binaries the cluster needs; zero values are looked up with env.Tool.
type Binaries struct {
	Etcd, KubeAPIServer, Kubectl string
}

// FindBinaries locates etcd, kube-apiserver and kubectl (ETCD_BIN,
// KUBE_APISERVER_BIN, KUBECTL_BIN override the cached builds).
func FindBinaries() (Binaries, error) {
	var b Binaries
	var err error
	if b.Etcd, err = env.Tool("ETCD_BIN", "etcd", "ETCD_VERSION"); err != nil {
		return b, err
	}
	if b.KubeAPIServer, err = env.Tool("KUBE_APISERVER_BIN", "kube-apiserver", "KUBERNETES_VERSION"); err != nil {
		return b, err
	}
	if b.Kubectl, err = env.Tool("KUBECTL_BIN", "kubectl", "KUBERNETES_VERSION"); err != nil {
		return b, err
	}
	return b, nil
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) start(name string, bin string, args ...string) error {
	logPath := filepath.Join(c.Dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = c.Dir
	// Dies with the test process even if that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done, err := proc.Start(cmd, nil)
	if err != nil {
		lf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	go func() { <-done; lf.Close() }()
	c.procs = append(c.procs, cmd)
	c.logs = append(c.logs, logPath)
	return nil
}

// LogTail returns the last n bytes of every component log, for failure reports.
func (c *Cluster) LogTail(n int) string {
	var b strings.Builder
	for _, p := range c.logs {
		data, _ := os.ReadFile(p)
		if len(data) > n {
			data = data[len(data)-n:]
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", p, data)
	}
	return b.String()
}

// Stop kills the processes it started.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		if p.Process != nil {
			p.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		for time.Now().Before(deadline) {
			if err := p.Process.Signal(syscall.Signal(0)); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		p.Process.Kill()
	}
}

// Start runs etcd and kube-apiserver in dir, waits for /readyz, writes a
// kubeconfig and creates the default namespace's ServiceAccount.
func Start(ctx context.Context, dir string, bins Binaries) (*Cluster, error) {
	c := &Cluster{Dir: dir, KubectlBin: bins.Kubectl}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	if err := c.start("etcd", bins.Etcd,
		"--name=e2e",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdClient,
		"--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer,
		"--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=e2e="+etcdPeer,
		"--unsafe-no-fsync",
		"--log-level=warn",
	); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, etcdClient+"/health", "", 30*time.Second); err != nil {
		return nil, fmt.Errorf("etcd not healthy: %w\n%s", err, c.LogTail(4000))
	}

	saKey, saPub := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := writeSAKeys(saKey, saPub); err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	c.Token = hex.EncodeToString(tok)
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(c.Token+`,e2e-admin,e2e-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	if err := c.start("kube-apiserver", bins.KubeAPIServer,
		"--etcd-servers="+etcdClient,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+tokens,
		"--authorization-mode=AlwaysAllow",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saPub,
		"--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=1",
	); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, c.Server+"/readyz", c.Token, 120*time.Second); err != nil {
		return nil, fmt.Errorf("kube-apiserver not ready: %w\n%s", err, c.LogTail(6000))
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: e2e-admin
  user:
    token: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: e2e-admin}
current-context: e2e
`, c.Server, c.Token)
	if err := os.WriteFile(c.Kubeconfig, []byte(kc), 0o600); err != nil {
		return nil, err
	}
	if err := c.EnsureNamespace(ctx, "default", nil); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

func writeSAKeys(keyPath, pubPath string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

var insecureClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
}

func waitHTTP(ctx context.Context, url, token string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := insecureClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s: %s: %s", url, resp.Status, body)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("timeout after %s: %v", timeout, last)
}

// Kubectl runs kubectl against the cluster with stdin; it returns stdout and
// an error carrying stderr.
func (c *Cluster) Kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.KubectlBin, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), &KubectlError{Args: args, Stderr: strings.TrimSpace(errb.String()), Err: err}
	}
	return out.Bytes(), nil
}

// KubectlError is a failed kubectl run.
type KubectlError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *KubectlError) Error() string {
	return fmt.Sprintf("kubectl %s: %v: %s", strings.Join(e.Args, " "), e.Err, e.Stderr)
}

// Stderr of a KubectlError, or err's text.
func Stderr(err error) string {
	var ke *KubectlError
	if errors.As(err, &ke) {
		return ke.Stderr
	}
	return err.Error()
}

// EnsureNamespace creates namespace ns (with labels) if missing, labels it,
// and creates its default ServiceAccount (no controller-manager runs here).
func (c *Cluster) EnsureNamespace(ctx context.Context, ns string, labels map[string]string) error {
	obj := map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns, "labels": labels},
	}
	if err := c.ApplyObject(ctx, obj); err != nil {
		return err
	}
	return c.EnsureServiceAccount(ctx, ns, "default")
}

// EnsureServiceAccount creates a ServiceAccount if missing.
func (c *Cluster) EnsureServiceAccount(ctx context.Context, ns, name string) error {
	return c.ApplyObject(ctx, map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": name, "namespace": ns},
	})
}

// ApplyObject server-side applies one object (for the suite's own fixtures).
func (c *Cluster) ApplyObject(ctx context.Context, obj map[string]any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	_, err = c.Kubectl(ctx, data, "apply", "--server-side", "--field-manager=e2e", "-f", "-")
	return err
}
