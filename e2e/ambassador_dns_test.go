package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/podsim"
)

const ambassadorDNSConfig = `apiVersion: sidecarize.dev/v1alpha1
kind: Sidecarize
metadata: {name: e2e-dns}
spec:
  rules:
    - select: {names: [frontend]}
      ambassadors:
        upstreams:
          - upstream: http://api:8080
            env: [API_URL]
            circuitBreaker:
              healthCheck: {path: /healthz, interval: 200ms}
              recoverAfter: 200ms
            fallback: {status: 200, body: canned}
`

const ambassadorDNSInput = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  namespace: shop
spec:
  selector:
    matchLabels: {app: frontend}
  template:
    metadata:
      labels: {app: frontend}
    spec:
      containers:
      - name: frontend
        image: ghcr.io/example/frontend:1.4.2
        env:
        - name: API_URL
          value: http://api:8080/quotes
`

// TestAmbassadorDNS runs the generated ambassador config with the pod's DNS
// played by a real (minimal) DNS server: HAProxy gets its resolv.conf
// through a bind mount over /etc/resolv.conf in a mount namespace of its
// own, in the pod's network namespace. It checks that HAProxy starts while
// DNS is down (the canned response answers), finds the Service once DNS
// answers, spreads traffic when the name gets a second address (a scaled
// endpoint), and follows when the first one goes away (a changed IP). On
// every HAProxy version of the matrix.
func TestAmbassadorDNS(t *testing.T) {
	t.Parallel()
	eachHAProxy(t, testAmbassadorDNS)
}

func testAmbassadorDNS(t *testing.T, h env.HAProxy) {
	for _, tool := range []string{"nsenter", "unshare", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: apt-get install util-linux mount", tool)
		}
	}
	haproxyBin := h.Path
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "sidecarize.yaml")
	if err := os.WriteFile(cfgFile, []byte(ambassadorDNSConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runSidecarize(t, []byte(ambassadorDNSInput), "-c", cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := podsim.Load(out)
	if err != nil || len(pods) != 1 {
		t.Fatalf("want 1 pod: %v\n%s", err, out)
	}
	cfg := string(pods[0].ConfigMaps["frontend-ambassador"]["haproxy.cfg"])
	if !strings.Contains(cfg, "parse-resolv-conf") || !strings.Contains(cfg, `"api.${POD_NAMESPACE-shop}.svc.cluster.local:8080"`) {
		t.Fatalf("unexpected config:\n%s", cfg)
	}
	if err := os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	ns, err := podsim.NewNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()

	// Two instances of the API, on two addresses.
	var failB atomic.Bool
	for _, inst := range []struct{ addr, name string }{{"127.0.0.2:8080", "A"}, {"127.0.0.3:8080", "B"}} {
		ln, err := ns.Listen("tcp", inst.addr)
		if err != nil {
			t.Fatal(err)
		}
		name := inst.name
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if name == "B" && failB.Load() {
				http.Error(w, "B is failing", http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "instance "+name)
		})}
		go srv.Serve(ln)
		defer srv.Close()
	}

	logs, exited := ambRunHAProxy(t, ns, haproxyBin, filepath.Join(dir, "haproxy.cfg"), resolv)

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: ns.DialContext, DisableKeepAlives: true}}
	get := func() string {
		resp, err := client.Get("http://127.0.0.1:9001/quotes")
		if err != nil {
			return "error: " + err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	wait := func(d time.Duration, want string) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			select {
			case err := <-exited:
				t.Fatalf("haproxy exited: %v\n%s", err, logs.String())
			default:
			}
			got := get()
			if got == want {
				return time.Since(start)
			}
			if time.Since(start) > d {
				t.Fatalf("after %s: got %q, want %q\n%s", d, got, want, logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// 1. DNS is down at boot: HAProxy starts anyway, and the app gets the
	// canned response rather than a connection error.
	wait(10*time.Second, "canned")

	// 2. DNS comes up: the resolver finds the Service.
	var ips atomic.Value
	ips.Store([]net.IP{net.IPv4(127, 0, 0, 2)})
	var queries atomic.Int64
	stop := ambServeDNS(t, ns, "api.shop.svc.cluster.local.", &ips, &queries)
	defer stop()
	took := wait(10*time.Second, "instance A")
	t.Logf("DNS up: traffic reached the Service after %s (%d queries)", took.Round(10*time.Millisecond), queries.Load())

	// 3. The endpoint scales out to two addresses: both get traffic.
	ips.Store([]net.IP{net.IPv4(127, 0, 0, 2), net.IPv4(127, 0, 0, 3)})
	took = wait(10*time.Second, "instance B")
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		seen[get()] = true
	}
	if !seen["instance A"] || !seen["instance B"] || len(seen) != 2 {
		t.Errorf("scaled to two addresses: got %v, want traffic to both instances", seen)
	}
	t.Logf("second address in use after %s", took.Round(10*time.Millisecond))

	// 4. The first address goes away (a changed Service IP): all traffic
	// follows to the remaining one once the old answer is obsolete.
	ips.Store([]net.IP{net.IPv4(127, 0, 0, 3)})
	start := time.Now()
	// Forty answers in a row from B (two seconds): HAProxy's round robin
	// over its threads gave runs of eight from B while A was still in
	// (ten in a row passed this step before A was dropped, and step 5
	// then met A).
	for n := 0; n < 40; {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the old address still gets traffic after 20s\n%s", logs.String())
		}
		if get() == "instance B" {
			n++
		} else {
			n = 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("old address dropped after %s", time.Since(start).Round(10*time.Millisecond))

	// 5. The remaining address fails: its breaker opens (5 errors in a
	// row by default), the other slots have no address, so the canned
	// response answers; it comes back when healthy.
	failB.Store(true)
	errors := 0
	for got := get(); got != "canned"; got = get() {
		if !strings.Contains(got, "B is failing") || errors > 5 {
			t.Fatalf("failing upstream: got %q after %d errors\n%s", got, errors, logs.String())
		}
		errors++
	}
	if errors != 5 {
		t.Errorf("the circuit opened after %d errors, want 5", errors)
	}
	failB.Store(false)
	wait(5*time.Second, "instance B")
}

// ambRunHAProxy runs haproxy on cfg in the network namespace, as in the pod
// (POD_NAMESPACE from the downward API is "shop"). With resolv set, it runs
// in a mount namespace of its own where resolv is bind-mounted over
// /etc/resolv.conf. The process group is ended when the test ends.
func ambRunHAProxy(t *testing.T, ns *podsim.NetNS, haproxyBin, cfg, resolv string) (*ambSyncBuf, <-chan error) {
	t.Helper()
	argv := []string{"nsenter", "--net=" + ns.Path}
	if resolv != "" {
		script := fmt.Sprintf("mount --bind %s /etc/resolv.conf && exec %s -W -db -f %s", resolv, haproxyBin, cfg)
		argv = append(argv, "unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	} else {
		argv = append(argv, haproxyBin, "-W", "-db", "-f", cfg)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "POD_NAMESPACE=shop"}
	cmd.Dir = filepath.Dir(cfg)
	logs := &ambSyncBuf{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	done := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return logs, exited
}

// ambServeDNS answers A queries for name with the addresses in *ips (TTL 1s), AAAA with no
// records, anything else with NXDOMAIN, on 127.0.0.1:53 in ns.
func ambServeDNS(t *testing.T, ns *podsim.NetNS, name string, ips *atomic.Value, queries *atomic.Int64) (stop func()) {
	t.Helper()
	var pc net.PacketConn
	if err := ns.Do(func() error {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:53")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			queries.Add(1)
			if os.Getenv("AMB_DNS_DEBUG") != "" {
				fmt.Fprintf(os.Stderr, "%s dns query %x\n", time.Now().Format("15:04:05.000"), buf[:n])
			}
			if resp := ambDNSAnswer(buf[:n], name, ips.Load().([]net.IP)); resp != nil {
				pc.WriteTo(resp, addr)
			}
		}
	}()
	return func() { pc.Close() }
}

// ambDNSAnswer builds the response to one query (RFC 1035 section 4.1), or nil.
func ambDNSAnswer(q []byte, name string, ips []net.IP) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// The question: labels, then type and class.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	i++ // the root label
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	question := q[12 : i+4]
	qname := strings.ToLower(strings.Join(labels, ".") + ".")

	resp := make([]byte, 12, 64)
	copy(resp, q[:2])                        // id
	flags := uint16(0x8180)                  // response, recursion desired and available
	binary.BigEndian.PutUint16(resp[4:6], 1) // one question
	resp = append(resp, question...)
	switch {
	case qname != name:
		flags |= 3 // NXDOMAIN
	case qtype == 1: // A
		binary.BigEndian.PutUint16(resp[6:8], uint16(len(ips)))
		for _, ip := range ips {
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4)
			resp = append(resp, ip.To4()...)
		}
	}
	binary.BigEndian.PutUint16(resp[2:4], flags)
	return resp
}

// ambSyncBuf collects a process's output.
type ambSyncBuf struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *ambSyncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *ambSyncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
