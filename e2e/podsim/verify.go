package podsim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// Result is one check of a verification.
type Result struct {
	Check string // what was checked
	Err   error  // nil: passed
}

// requestsPerCheck is how many requests/connections each traffic check makes.
const requestsPerCheck = 3

// Config returns the parsed HAProxy configuration of a simulated container.
func (s *Sim) Config(p *Proc) (*HAProxyConfig, error) {
	var texts []string
	for _, f := range configFiles(p.Argv) {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		texts = append(texts, string(b))
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("container %s: no -f config file in %q", p.Container, p.Argv)
	}
	return ParseHAProxyConfig(texts...), nil
}

// Verify exercises the running pod:
//   - every port of every HAProxy container answers its protocol (http, grpc
//     over h2, raw tcp; /metrics on the metrics port), the proxied requests
//     reach the app stand-in and come back;
//   - the HAProxy metrics counters of the exercised frontends grow by at least
//     the number of requests sent;
//   - every port of every Service selecting the pod reaches what it targets,
//     none bypasses a proxy to the app port behind it, and every Service that
//     sidecarize rewrote reaches the app through a proxy.
func (s *Sim) Verify(ctx context.Context) []Result {
	var res []Result
	add := func(check string, err error) { res = append(res, Result{check, err}) }

	type proxyPort struct {
		proc *Proc
		fe   *Frontend
		cp   ContainerPort
	}
	byPort := map[int]proxyPort{}
	var metricsPort = map[string]int{} // container -> metrics port
	fronted := map[int]bool{}          // app ports a proxy forwards to
	for _, p := range s.Procs {
		cfg, err := s.Config(p)
		if err != nil {
			add("config of "+p.Container, err)
			continue
		}
		for _, bp := range cfg.BackendPorts {
			fronted[bp] = true
		}
		for _, cp := range s.Pod.Ports() {
			if cp.Container != p.Container || cp.Protocol != "TCP" {
				continue
			}
			fe := cfg.FrontendFor(cp.Port)
			if fe == nil {
				add(fmt.Sprintf("%s port %s/%d", p.Container, cp.Name, cp.Port), errors.New("declared container port has no HAProxy frontend bound to it"))
				continue
			}
			byPort[cp.Port] = proxyPort{p, fe, cp}
			if fe.Protocol() == "metrics" && (metricsPort[p.Container] == 0 || cp.Name == "mon-metrics") {
				metricsPort[p.Container] = cp.Port
			}
		}
	}

	// Counters before any traffic.
	before := map[string][]Sample{}
	for c, port := range metricsPort {
		ss, err := s.Scrape(ctx, port)
		if err != nil {
			add(fmt.Sprintf("%s /metrics on %d", c, port), err)
			continue
		}
		before[c] = ss
	}

	sent := map[string]map[string]int{} // container -> frontend -> requests
	exercise := func(what string, port int, proto string) error {
		var err error
		// Outbound servers come up once the resolver has answered and the
		// health checks passed: give them time.
		deadline := time.Now().Add(20 * time.Second)
	retry:
		switch proto {
		case "metrics":
			_, err = s.Scrape(ctx, port)
		case "http":
			err = s.CheckHTTP(ctx, port, "")
		case "outbound-http":
			err = s.CheckHTTP(ctx, port, "upstream/")
		case "grpc", "outbound-grpc":
			err = s.CheckGRPC(ctx, port)
		case "tcp", "outbound-tcp":
			err = s.CheckTCP(ctx, port, false)
		case "tls":
			err = s.CheckTCP(ctx, port, true)
		case "https":
			err = s.checkHTTP(ctx, port, "", true)
		case "redirect":
			err = s.CheckRedirect(ctx, port)
		default:
			err = fmt.Errorf("unknown protocol %q", proto)
		}
		if err != nil && strings.HasPrefix(proto, "outbound-") && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(250 * time.Millisecond)
			goto retry
		}
		if pp, ok := byPort[port]; ok && err == nil && proto != "metrics" {
			if sent[pp.proc.Container] == nil {
				sent[pp.proc.Container] = map[string]int{}
			}
			sent[pp.proc.Container][pp.fe.Name] += requestsPerCheck
		}
		add(what, err)
		return err
	}

	for port, pp := range byPort {
		exercise(fmt.Sprintf("%s port %s/%d (%s)", pp.proc.Container, pp.cp.Name, port, pp.fe.Protocol()), port, pp.fe.Protocol())
	}

	retargets := s.Pod.Retargets()
	retargeted := map[int]bool{}
	for pp := range retargets {
		retargeted[pp] = true
	}
	simulated := map[string]bool{}
	for _, p := range s.Procs {
		simulated[p.Container] = true
	}
	for _, svc := range s.Pod.Services {
		// viaProxy: a port reaches the app through a proxy; touches: a port
		// targets what sidecarize added or proxies (a Service for another
		// port of the app, e.g. a gossip port, is none of its business).
		viaProxy, touches := false, false
		// Ports sidecarize added (its status on the Service) carry no app
		// traffic: a Service that had no ports of its own only gets the
		// metrics port, and that is not a bypass.
		var st struct {
			Ports []string `json:"ports"`
		}
		_ = json.Unmarshal([]byte(manifest.Str(svc, "metadata", "annotations", "sidecarize.dev/status")), &st)
		added := map[string]bool{}
		for _, n := range st.Ports {
			added[n] = true
		}
		for _, sp := range manifest.Slice(svc, "spec", "ports") {
			m, _ := sp.(map[string]any)
			what := fmt.Sprintf("Service %s port %v (targetPort %v)", svc.Name(), m["port"], m["targetPort"])
			if proto := manifest.Str(m, "protocol"); proto != "" && proto != "TCP" {
				continue
			}
			cp, err := s.Pod.ResolveTargetPort(m)
			if err != nil {
				add(what, err)
				continue
			}
			touches = touches || cp.Injected && !added[manifest.Str(m, "name")] || fronted[cp.Port] || retargeted[cp.Port]
			if cp.Injected && !simulated[cp.Container] {
				// A proxy the simulator cannot run (not HAProxy, e.g. Envoy):
				// exercise the next hop of its retarget chain instead.
				next, ok := retargets[cp.Port]
				if !ok {
					add(what+fmt.Sprintf(": container %s is not simulated, not exercised", cp.Container), nil)
					continue
				}
				if retargeted[cp.Port] {
					viaProxy = true
				}
				what += fmt.Sprintf(" -> %s (not simulated) -> next hop %d", cp.Container, next)
				if pp, ok := byPort[next]; ok {
					exercise(what, next, pp.fe.Protocol())
				} else {
					exercise(what, next, "tcp")
				}
				continue
			}
			if pp, ok := byPort[cp.Port]; ok {
				if exercise(what, cp.Port, pp.fe.Protocol()) == nil && retargeted[cp.Port] {
					viaProxy = true
				}
				continue
			}
			if fronted[cp.Port] {
				if by := s.Pod.Bystanders[svc.Name()]; len(by) > 0 {
					// Left as it was on purpose (and reported): the other
					// pods it selects have no proxy.
					add(what+fmt.Sprintf(": targets app port %d directly, left as it was: it also selects %v, not injected", cp.Port, by), nil)
				} else {
					add(what, fmt.Errorf("targets app port %d directly, bypassing the proxy in front of it", cp.Port))
				}
				continue
			}
			exercise(what, cp.Port, "tcp")
		}
		if len(retargeted) > 0 && touches && !viaProxy && len(s.Pod.Bystanders[svc.Name()]) == 0 {
			add("Service "+svc.Name(), fmt.Errorf("selects a pod whose app sidecarize put behind proxy port(s) %v, but none of its ports reaches the app through one", keys(retargeted)))
		}
	}

	// Counters after: each exercised frontend counted the traffic.
	for c, port := range metricsPort {
		if before[c] == nil || len(sent[c]) == 0 {
			continue
		}
		after, err := s.Scrape(ctx, port)
		if err != nil {
			add(fmt.Sprintf("%s /metrics on %d after traffic", c, port), err)
			continue
		}
		for fe, n := range sent[c] {
			var mode string
			for _, pp := range byPort {
				if pp.proc.Container == c && pp.fe.Name == fe {
					mode = pp.fe.Protocol()
				}
			}
			metric := "haproxy_frontend_http_requests_total"
			if strings.HasSuffix(mode, "tcp") || mode == "tls" {
				metric = "haproxy_frontend_connections_total"
			}
			d := Sum(after, metric, "proxy", fe) - Sum(before[c], metric, "proxy", fe)
			what := fmt.Sprintf("%s metrics: %s{proxy=%q} grows by >= %d", c, metric, fe, n)
			if !Has(after, metric, "proxy", fe) {
				add(what, fmt.Errorf("no such series on /metrics (port %d)", port))
			} else if d < float64(n) {
				add(what, fmt.Errorf("grew by %v", d))
			} else {
				add(what, nil)
			}
		}
	}
	return res
}

func nonce() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CheckHTTP sends HTTP/1.1 GETs to port and expects a stand-in's echo (from
// a container whose name starts with from, when from is not empty).
func (s *Sim) CheckHTTP(ctx context.Context, port int, from string) error {
	return s.checkHTTP(ctx, port, from, false)
}

func (s *Sim) checkHTTP(ctx context.Context, port int, from string, useTLS bool) error {
	cl, scheme := s.HTTPClient(), "http"
	if useTLS {
		cl.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		scheme = "https"
	}
	for i := 0; i < requestsPerCheck; i++ {
		p := "/podsim/" + nonce()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://127.0.0.1:"+strconv.Itoa(port)+p, nil)
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %.200s", p, resp.Status, body)
		}
		var r AppReply
		if err := json.Unmarshal(body, &r); err != nil || r.Path != p || !strings.HasPrefix(r.Container, from) {
			return fmt.Errorf("GET %s: answer is not the echo of %q: %.200s", p, from+"*", body)
		}
	}
	return nil
}

// CheckRedirect expects GET to answer with a redirect to https.
func (s *Sim) CheckRedirect(ctx context.Context, port int) error {
	cl := s.HTTPClient()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for i := 0; i < requestsPerCheck; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/podsim/"+nonce(), nil)
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 300 || resp.StatusCode > 399 || !strings.HasPrefix(resp.Header.Get("Location"), "https://") {
			return fmt.Errorf("want a redirect to https://, got %s Location %q", resp.Status, resp.Header.Get("Location"))
		}
	}
	return nil
}

// CheckGRPC calls grpc.health.v1.Health/Check over h2c on port.
func (s *Sim) CheckGRPC(ctx context.Context, port int) error {
	conn, err := grpc.NewClient("passthrough:///127.0.0.1:"+strconv.Itoa(port),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return s.NS.DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		return err
	}
	defer conn.Close()
	cl := healthpb.NewHealthClient(conn)
	for i := 0; i < requestsPerCheck; i++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := cl.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err != nil {
			return fmt.Errorf("grpc Health/Check: %w", err)
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("grpc Health/Check: %v", r.GetStatus())
		}
	}
	return nil
}

// CheckTCP sends random bytes on fresh connections (TLS ones if useTLS) and
// expects them back.
func (s *Sim) CheckTCP(ctx context.Context, port int, useTLS bool) error {
	for i := 0; i < requestsPerCheck; i++ {
		c, err := s.Dial(ctx, port)
		if err != nil {
			return err
		}
		if useTLS {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return fmt.Errorf("tls handshake: %w", err)
			}
			c = tc
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := []byte("podsim-" + nonce() + "\x00\x01\xff\n")
		if _, err := c.Write(msg); err != nil {
			c.Close()
			return err
		}
		got := make([]byte, len(msg))
		_, err = io.ReadFull(c, got)
		c.Close()
		if err != nil {
			return fmt.Errorf("tcp echo: %w", err)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("tcp echo: sent %q, got %q", msg, got)
		}
	}
	return nil
}

// Sample is one Prometheus text-format sample.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Scrape GETs /metrics on port and parses the text exposition format.
func (s *Sim) Scrape(ctx context.Context, port int) ([]Sample, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/metrics", nil)
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	ss, err := ParseMetrics(resp.Body)
	if err != nil {
		return nil, err
	}
	for _, x := range ss {
		if strings.HasPrefix(x.Name, "haproxy_") {
			return ss, nil
		}
	}
	return nil, fmt.Errorf("GET /metrics on %d: no haproxy_* metrics (%d samples)", port, len(ss))
}

// ParseMetrics parses the Prometheus text format (the subset HAProxy emits).
func ParseMetrics(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		x := Sample{Labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			x.Name = line[:i]
			j := strings.LastIndex(line, "}")
			if j < i {
				return nil, fmt.Errorf("bad metrics line %q", line)
			}
			for _, kv := range splitLabels(line[i+1 : j]) {
				k, v, _ := strings.Cut(kv, "=")
				uq, err := strconv.Unquote(v)
				if err != nil {
					uq = strings.Trim(v, `"`)
				}
				x.Labels[strings.TrimSpace(k)] = uq
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			f := strings.Fields(line)
			x.Name, rest = f[0], strings.Join(f[1:], " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("bad metrics line %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q", line)
		}
		x.Value = v
		out = append(out, x)
	}
	return out, sc.Err()
}

func splitLabels(s string) []string {
	var out []string
	inQ, esc, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case esc:
			esc = false
		case s[i] == '\\':
			esc = true
		case s[i] == '"':
			inQ = !inQ
		case s[i] == ',' && !inQ:
			if t := strings.TrimSpace(s[start:i]); t != "" {
				out = append(out, t)
			}
			start = i + 1
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

// Sum adds the samples of a metric whose label k equals v (k "": all).
func Sum(ss []Sample, name, k, v string) float64 {
	var t float64
	for _, x := range ss {
		if x.Name == name && (k == "" || x.Labels[k] == v) {
			t += x.Value
		}
	}
	return t
}

// Has reports whether such a series exists.
func Has(ss []Sample, name, k, v string) bool {
	for _, x := range ss {
		if x.Name == name && (k == "" || x.Labels[k] == v) {
			return true
		}
	}
	return false
}

func keys(m map[int]bool) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
