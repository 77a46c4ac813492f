package podsim

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// App stands in for the app containers: on each of their container ports it
// serves HTTP/1.1, h2c (HTTP/2 with prior knowledge) with gRPC (the standard
// health service, SERVING), and raw TCP echo, told apart by the first bytes
// the client sends.
type App struct {
	Container string
	Port      int

	ln    net.Listener
	http  *http.Server
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once

	HTTPRequests atomic.Int64 // HTTP/1 and h2 requests, gRPC included
	GRPCRequests atomic.Int64
	TCPConns     atomic.Int64
}

// AppReply is the JSON body the app's HTTP handler answers with.
type AppReply struct {
	Container string `json:"container"`
	Port      int    `json:"port"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Proto     string `json:"proto"`
}

// startApp starts a stand-in listening on ip:port (TLS when tlsConf is set).
func startApp(ns *NetNS, container, ip string, port int, tlsConf *tls.Config) (*App, error) {
	ln, err := ns.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("app %s: listen on %d: %w", container, port, err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	a := &App{Container: container, Port: port, ln: ln, conns: make(chan net.Conn), done: make(chan struct{})}
	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	a.http = &http.Server{
		Protocols:         &protos,
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.HTTPRequests.Add(1)
			if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
				a.GRPCRequests.Add(1)
				gs.ServeHTTP(w, r)
				return
			}
			io.Copy(io.Discard, r.Body)
			code := http.StatusOK
			if s, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
				if n, err := strconv.Atoi(s); err == nil && n >= 200 && n <= 599 {
					code = n
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Podsim-App", container)
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(AppReply{Container: container, Port: port, Method: r.Method, Path: r.URL.Path, Proto: r.Proto})
		}),
	}
	go a.http.Serve(chanListener{a})
	go a.acceptLoop()
	return a, nil
}

var httpPrefixes = []string{"GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC", "PRI ", "CONN", "TRAC"}

func (a *App) acceptLoop() {
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			br := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			head, err := br.Peek(4)
			c.SetReadDeadline(time.Time{})
			if err != nil && len(head) == 0 {
				c.Close()
				return
			}
			bc := &bufConn{Conn: c, r: br}
			for _, p := range httpPrefixes {
				if string(head) == p {
					select {
					case a.conns <- bc:
					case <-a.done:
						c.Close()
					}
					return
				}
			}
			a.TCPConns.Add(1)
			io.Copy(c, br) // raw TCP: echo
			c.Close()
		}()
	}
}

// Close stops the app.
func (a *App) Close() {
	a.once.Do(func() {
		close(a.done)
		a.ln.Close()
		a.http.Close()
	})
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

type chanListener struct{ a *App }

func (l chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.a.conns:
		return c, nil
	case <-l.a.done:
		return nil, net.ErrClosed
	}
}
func (l chanListener) Close() error   { return nil }
func (l chanListener) Addr() net.Addr { return l.a.ln.Addr() }
