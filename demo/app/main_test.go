package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFrontend(t *testing.T) {
	for _, c := range []struct {
		name     string
		api      http.HandlerFunc
		code     int
		result   Result
		contains string
	}{
		{"ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) }, 200, ResultOK, "The API answered: 200 OK"},
		{"api 500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, 500, ResultFailed, "500 — the API failed: 500 Internal Server Error"},
		{"canned", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(circuitHeader, "open")
			w.Write([]byte(`{"degraded":true}`))
		}, 200, ResultDegraded, "canned response"},
	} {
		t.Run(c.name, func(t *testing.T) {
			api := httptest.NewServer(c.api)
			defer api.Close()
			fe := httptest.NewServer(newHandler(api.URL+"/unstable?failure_rate=0.5", api.Client()))
			defer fe.Close()
			resp, err := http.Get(fe.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			if _, err := io.Copy(&b, resp.Body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.code || Result(resp.Header.Get("X-Demo-Result")) != c.result || !strings.Contains(b.String(), c.contains) {
				t.Errorf("got %d %s %q, want %d %s containing %q", resp.StatusCode, resp.Header.Get("X-Demo-Result"), b.String(), c.code, c.result, c.contains)
			}
		})
	}
	// The API down: a 500 page.
	fe := httptest.NewServer(newHandler("http://127.0.0.1:1/", http.DefaultClient))
	defer fe.Close()
	resp, err := http.Get(fe.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 || resp.Header.Get("X-Demo-Result") != "failed" {
		t.Errorf("API unreachable: got %d %s, want 500 failed", resp.StatusCode, resp.Header.Get("X-Demo-Result"))
	}
}
