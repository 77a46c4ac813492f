package podsim

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Frontend is what the simulator needs to know of an HAProxy frontend or
// listen section.
type Frontend struct {
	Name  string
	Mode  string // http or tcp
	Ports []int
	H2    bool // a bind line has "proto h2" (gRPC / h2c)
	TLS   bool // a bind line has "ssl"
	// Redirect: the frontend only redirects (e.g. to https), no backend.
	Redirect bool
	listen   bool
	PromEx   bool // serves the Prometheus exporter
	// Backends are the default_backend/use_backend names.
	Backends []string
	// Outbound: the frontend forwards to servers outside the pod (an
	// ambassador): hostnames or non-loopback addresses.
	Outbound bool
}

// Protocol is how a client talks to the frontend: metrics, grpc, http, tcp,
// https and tls (TLS termination), or outbound-http / outbound-tcp for an
// ambassador's listener.
func (f *Frontend) Protocol() string {
	switch {
	case f.PromEx:
		return "metrics"
	case f.Redirect && len(f.Backends) == 0:
		return "redirect"
	case f.Outbound && f.Mode == "http" && f.H2:
		return "outbound-grpc"
	case f.Outbound && f.Mode == "http":
		return "outbound-http"
	case f.Outbound:
		return "outbound-tcp"
	case f.TLS && f.Mode == "http":
		return "https"
	case f.TLS:
		return "tls"
	case f.Mode == "http" && f.H2:
		return "grpc"
	case f.Mode == "http":
		return "http"
	}
	return "tcp"
}

// Server is a backend server line.
type Server struct {
	Backend string
	Host    string // as written (may contain ${VAR-default})
	Port    int
	SSL     bool // "ssl": the server speaks TLS
}

// Loopback reports whether the server is in the pod (127.0.0.0/8, ::1,
// localhost).
func (s Server) Loopback() bool {
	return strings.HasPrefix(s.Host, "127.") || s.Host == "localhost" || s.Host == "::1" || s.Host == "[::1]"
}

// HAProxyConfig is a parsed configuration (the parts the simulator uses).
type HAProxyConfig struct {
	Frontends []*Frontend
	Servers   []Server
	// BackendPorts are the loopback ports the backends' servers forward to.
	BackendPorts []int
}

// FrontendFor returns the frontend listening on port, or nil.
func (c *HAProxyConfig) FrontendFor(port int) *Frontend {
	for _, f := range c.Frontends {
		for _, p := range f.Ports {
			if p == port {
				return f
			}
		}
	}
	return nil
}

// configFiles are the -f arguments of an haproxy argv, directories expanded
// the way haproxy does (*.cfg in lexical order).
func configFiles(argv []string) []string {
	var out []string
	for i := 1; i < len(argv); i++ {
		if argv[i] != "-f" || i+1 >= len(argv) {
			continue
		}
		p := argv[i+1]
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			ms, _ := filepath.Glob(filepath.Join(p, "*.cfg"))
			sort.Strings(ms)
			out = append(out, ms...)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// ParseHAProxyConfig reads the sections, modes, bind ports and server ports.
func ParseHAProxyConfig(texts ...string) *HAProxyConfig {
	cfg := &HAProxyConfig{}
	defMode := "tcp"
	var cur *Frontend
	section, backendName := "", ""
	sectionMode := ""
	for _, text := range texts {
		for _, line := range strings.Split(text, "\n") {
			if i := strings.Index(line, "#"); i >= 0 {
				line = line[:i]
			}
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "global", "defaults", "frontend", "backend", "listen", "userlist", "peers",
				"resolvers", "program", "http-errors", "ring", "cache", "mailers", "crt-store", "traces":
				if section == "defaults" {
					defMode = sectionMode
				}
				section, sectionMode, cur, backendName = f[0], defMode, nil, ""
				if len(f) > 1 {
					backendName = f[1]
				}
				if f[0] == "frontend" || f[0] == "listen" {
					cur = &Frontend{Mode: defMode, listen: f[0] == "listen"}
					if len(f) > 1 {
						cur.Name = f[1]
					}
					cfg.Frontends = append(cfg.Frontends, cur)
				}
				continue
			}
			switch {
			case f[0] == "mode" && len(f) > 1:
				sectionMode = f[1]
				if cur != nil {
					cur.Mode = f[1]
				}
			case f[0] == "bind" && len(f) > 1 && cur != nil:
				addr := f[1]
				if i := strings.LastIndex(addr, ":"); i >= 0 {
					if n, err := strconv.Atoi(addr[i+1:]); err == nil {
						cur.Ports = append(cur.Ports, n)
					}
				}
				for i := 2; i < len(f); i++ {
					if f[i] == "proto" && i+1 < len(f) && f[i+1] == "h2" {
						cur.H2 = true
					}
					if f[i] == "ssl" {
						cur.TLS = true
					}
				}
			case strings.Contains(line, "prometheus-exporter") && cur != nil:
				cur.PromEx = true
			case cur != nil && (f[0] == "redirect" || len(f) > 1 && f[0] == "http-request" && f[1] == "redirect"):
				cur.Redirect = true
			case (f[0] == "default_backend" || f[0] == "use_backend") && len(f) > 1 && cur != nil:
				cur.Backends = append(cur.Backends, f[1])
			case (f[0] == "server" && len(f) > 2 || f[0] == "server-template" && len(f) > 3) && (section == "backend" || section == "listen"):
				if f[0] == "server-template" { // server-template <prefix> <num> <fqdn>:<port> ...
					f = append([]string{"server", f[1]}, f[3:]...)
				}
				addr := strings.Trim(f[2], `"`)
				if i := strings.LastIndex(addr, ":"); i >= 0 {
					if n, err := strconv.Atoi(addr[i+1:]); err == nil {
						sv := Server{Backend: backendName, Host: addr[:i], Port: n}
						for _, w := range f[3:] {
							sv.SSL = sv.SSL || w == "ssl"
						}
						cfg.Servers = append(cfg.Servers, sv)
						if sv.Loopback() {
							cfg.BackendPorts = append(cfg.BackendPorts, n)
						}
					}
				}
			}
		}
		if section == "defaults" {
			defMode = sectionMode
		}
	}
	for _, fe := range cfg.Frontends {
		if fe.listen && fe.Name != "" {
			fe.Backends = []string{fe.Name} // a listen section is its own backend
		}
		for _, sv := range cfg.Servers {
			for _, b := range fe.Backends {
				if sv.Backend == b && !sv.Loopback() {
					fe.Outbound = true
				}
			}
		}
	}
	return cfg
}
