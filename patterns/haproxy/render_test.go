package haproxy

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/sidecarize/sidecarize/templates"
)

// monitorData has the fields of haproxy-monitor.cfg.tmpl (patterns/monitor's
// template data).
type monitorData struct {
	Config
	AppPort   int32
	ProxyPort int32
	Mode      string
	H2        bool
}

// hostile are workload names and values no validator stood in front of:
// quotes, line breaks, "$", NUL, unicode, the holes themselves, a huge one.
var hostile = []string{
	"Deployment shop/api", "", `Deployment a/"b"`, "Deployment a/b\nglobal\n    maxconn 1", "Deployment ${HOME}/x",
	"Deployment \x00/x", "Deployment ünï/çødé", holeA, holeB, holeA + holeB, "x" + holeA[:5], `\`,
	strings.Repeat("Deployment big/x", 5000),
}

func monitorCase(r *rand.Rand) monitorData {
	pick := func() string { return hostile[r.Intn(len(hostile))] }
	d := monitorData{
		Config: Config{Workload: pick(), MaxConnections: r.Intn(5000), MetricsPort: int32(r.Intn(65536)), MetricsPath: "/metrics",
			Defaults: FrontDefaults([]string{"http", "tcp"}[r.Intn(2)], []string{"60s", "5m"}[r.Intn(2)])},
		AppPort: int32(r.Intn(65536)), ProxyPort: 9080, Mode: "http", H2: r.Intn(2) == 0,
	}
	if r.Intn(4) == 0 {
		d.MetricsPath = pick() // through word: never a hole in the kept text
	}
	if r.Intn(4) == 0 {
		d.Defaults.KeepAliveTimeout = pick() // written as it is: a hole where it stands
	}
	if r.Intn(8) == 0 {
		d.SSL = &SSL{MinVersion: "TLSv1.2"} // not kept
	}
	return d
}

// TestRenderCache: every config from the cache is the one rendered for
// its data, over data that varies in every field and holds hostile
// strings, with hits (the same data for other workloads) and misses.
func TestRenderCache(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	hits := 0
	for i := 0; i < 400; i++ {
		d := monitorCase(r)
		for _, w := range []string{d.Workload, hostile[r.Intn(len(hostile))]} {
			d.Workload = w
			if key, _, ok := renderKeyOf("haproxy-monitor.cfg.tmpl", d); ok {
				if k, ok := renders.Load(key); ok && k.(kept).ok {
					hits++
				}
			}
			got, err := render("haproxy-monitor.cfg.tmpl", d)
			if err != nil {
				t.Fatalf("%+v: %v", d, err)
			}
			want, err := templates.Render("haproxy-monitor.cfg.tmpl", d)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("%+v: from the cache:\n%s\nrendered:\n%s", d, got, want)
			}
		}
	}
	if hits == 0 {
		t.Fatal("no config came from the cache")
	}
	if n := renderCount.Load(); n > maxRenders {
		t.Fatalf("%d configs kept, at most %d", n, maxRenders)
	}
}

// TestRenderCacheRefuses: data whose other fields hold a hole, or a
// pointer, is rendered every time.
func TestRenderCacheRefuses(t *testing.T) {
	d := monitorData{Config: Config{Workload: "Deployment a/b", MaxConnections: 1, MetricsPath: "/m", Defaults: FrontDefaults("http", "1s")}, Mode: "http"}
	d.Defaults.KeepAliveTimeout = holeA
	key, _, ok := renderKeyOf("haproxy-monitor.cfg.tmpl", d)
	if !ok {
		t.Fatal("no key for plain data")
	}
	if keep("haproxy-monitor.cfg.tmpl", key.data).ok {
		t.Fatal("kept a text where a field other than Workload holds the hole")
	}
	d.Defaults.KeepAliveTimeout = ""
	d.SSL = &SSL{}
	if _, _, ok := renderKeyOf("haproxy-monitor.cfg.tmpl", d); ok {
		t.Fatal("a key for data with a pointer")
	}
	if _, _, ok := renderKeyOf("haproxy-monitor.cfg.tmpl", struct {
		Config
		Names []string
	}{}); ok {
		t.Fatal("a key for data with a slice")
	}
}

// TestRenderCacheSabotaged: a wrong text in the cache is an internal error
// under transform.Verify (on in every test binary).
func TestRenderCacheSabotaged(t *testing.T) {
	d := monitorData{Config: Config{Workload: "Deployment sab/otage", MaxConnections: 7, MetricsPath: "/m", Defaults: FrontDefaults("http", "1s")}, Mode: "http"}
	key, _, ok := renderKeyOf("haproxy-monitor.cfg.tmpl", d)
	if !ok {
		t.Fatal("no key")
	}
	k := keep("haproxy-monitor.cfg.tmpl", key.data)
	if !k.ok {
		t.Fatal("the monitor's config is not kept")
	}
	k.text = strings.Replace(k.text, "maxconn 7", "maxconn 8", 1)
	renders.Store(key, k)
	defer renders.Delete(key)
	if _, err := render("haproxy-monitor.cfg.tmpl", d); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("a sabotaged cache went unnoticed: %v", err)
	}
}

// FuzzRender: the config from the cache is the rendered one for any
// workload name and timeouts.
func FuzzRender(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, "5m", int32(8080), true)
	}
	f.Fuzz(func(t *testing.T, workload, keepAlive string, port int32, h2 bool) {
		d := monitorData{Config: Config{Workload: workload, MaxConnections: 10, MetricsPath: "/metrics", Defaults: FrontDefaults("http", "60s")},
			AppPort: port, ProxyPort: 9080, Mode: "http", H2: h2}
		d.Defaults.KeepAliveTimeout = keepAlive
		renders.Clear()
		renderCount.Store(0)
		for i := 0; i < 2; i++ { // a miss, then a hit
			got, err := render("haproxy-monitor.cfg.tmpl", d)
			want, werr := templates.Render("haproxy-monitor.cfg.tmpl", d)
			if err != nil || werr != nil || got != want {
				t.Fatalf("%q: %v %v\n%s\n%s", workload, err, werr, got, want)
			}
		}
	})
}

// TestRenderCacheConcurrent: workloads run in parallel share the cache;
// run with -race.
func TestRenderCacheConcurrent(t *testing.T) {
	renders.Clear()
	renderCount.Store(0)
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			r := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < 100; i++ {
				d := monitorCase(r)
				got, err := render("haproxy-monitor.cfg.tmpl", d)
				want, werr := templates.Render("haproxy-monitor.cfg.tmpl", d)
				if err == nil && (werr != nil || got != want) {
					err = fmt.Errorf("%+v: the config from the cache differs", d)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
