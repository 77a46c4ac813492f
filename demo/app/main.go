// Command frontend is the demo's frontend: a small page server that calls the
// API named by API_URL on every page view and shows what happened — the
// API's answer, its failure, or the canned response an ambassador serves
// while its circuit breaker is open.
//
// It is the "frontend" of seed 1 (productionise with sidecars): an app whose
// code we pretend not to own. sidecarize adds the monitoring proxy in front
// of it and the circuit-breaking ambassador between it and the API without
// changing a line here.
//
// Environment: API_URL (required), PORT (default 8080), API_TIMEOUT
// (default 5s).
package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	apiURL := os.Getenv("API_URL")
	if apiURL == "" {
		log.Fatal("frontend: API_URL is not set")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	timeout := 5 * time.Second
	if s := os.Getenv("API_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			log.Fatalf("frontend: API_TIMEOUT: %v", err)
		}
		timeout = d
	}
	srv := &http.Server{
		Addr:              ":" + port,
		Handler:           newHandler(apiURL, &http.Client{Timeout: timeout}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Printf("frontend: listening on :%s, API_URL=%s", port, apiURL)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// Result is what one call to the API gave; it is also sent in the
// X-Demo-Result header so scripts can count outcomes without parsing HTML.
type Result string

const (
	ResultOK       Result = "ok"       // the API answered 2xx
	ResultFailed   Result = "failed"   // the API failed (5xx, unreachable, timeout)
	ResultDegraded Result = "degraded" // an ambassador served its canned response
)

// circuitHeader is what the sidecarize ambassador adds to its canned
// response while the circuit is open.
const circuitHeader = "X-Sidecarize-Circuit"

type page struct {
	Result Result
	Status string
	Detail string
	APIURL string
}

var tmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><title>frontend</title></head>
<body style="font-family: sans-serif">
<h1>Demo frontend</h1>
{{if eq .Result "ok"}}<p style="color: green">The API answered: {{.Status}}</p>
{{else if eq .Result "degraded"}}<p style="color: orange">The API is unavailable; showing the ambassador's canned response:</p><pre>{{.Detail}}</pre>
{{else}}<p style="color: red">500 — the API failed: {{.Status}}</p>{{if .Detail}}<pre>{{.Detail}}</pre>{{end}}
{{end}}<p><small>API_URL={{.APIURL}}</small></p>
</body></html>
`))

func newHandler(apiURL string, client *http.Client) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		p := callAPI(r.Context(), client, apiURL)
		code := http.StatusOK
		if p.Result == ResultFailed {
			// The seed's frontend shows the API's failure as its own 500.
			code = http.StatusInternalServerError
		}
		log.Printf("GET / -> %d (API: %s %s)", code, p.Result, p.Status)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Demo-Result", string(p.Result))
		w.WriteHeader(code)
		tmpl.Execute(w, p)
	})
	return mux
}

func callAPI(ctx context.Context, client *http.Client, apiURL string) page {
	p := page{APIURL: apiURL, Result: ResultFailed}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL, nil)
	if err != nil {
		p.Status = err.Error()
		return p
	}
	resp, err := client.Do(req)
	if err != nil {
		p.Status = err.Error()
		return p
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	p.Status = resp.Status
	p.Detail = string(body)
	switch {
	case resp.Header.Get(circuitHeader) == "open":
		p.Result = ResultDegraded
	case resp.StatusCode < 400:
		p.Result = ResultOK
	default:
		p.Status = fmt.Sprintf("%s from %s", resp.Status, req.URL.Host)
	}
	return p
}
