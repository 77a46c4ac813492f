package haproxy

import (
	"fmt"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/transform"
)

// Config is the template data the blocks of templates/haproxy-base.cfg.tmpl
// read (global, defaults, the metrics frontend). Each pattern's template
// data embeds it and adds its own proxies.
type Config struct {
	Workload       string // the workload's Ref, for the header comment
	MaxConnections int
	MetricsPort    int32
	MetricsPath    string
	// SSL, when set, adds the TLS settings of bind lines to the global
	// section (tls).
	SSL *SSL
	// Defaults is the defaults section.
	Defaults Defaults
}

// SSL is the TLS profile of the proxies that terminate TLS.
type SSL struct {
	MinVersion   string // TLSv1.2 or TLSv1.3
	Ciphers      string // TLS 1.2 ciphers
	Ciphersuites string // TLS 1.3 suites
}

// Defaults is HAProxy's defaults section. Empty values are left out (each
// proxy then sets its own).
type Defaults struct {
	Mode               string // http or tcp
	ConnectTimeout     string
	ClientTimeout      string
	ServerTimeout      string
	HTTPRequestTimeout string
	KeepAliveTimeout   string
	// InitAddr: servers start even when DNS fails at boot.
	InitAddr bool
}

// ConnectTimeout bounds connecting to the app on localhost.
const ConnectTimeout = "5s"

// FrontDefaults are the defaults of a proxy in front of the app (monitor,
// tls): one mode, one timeout for clients, the app and (in http mode)
// receiving a request.
func FrontDefaults(mode, timeout string) Defaults {
	d := Defaults{Mode: mode, ConnectTimeout: ConnectTimeout, ClientTimeout: timeout, ServerTimeout: timeout}
	if mode == "http" {
		d.HTTPRequestTimeout = timeout
	}
	return d
}

// CheckFront checks the options the proxies in front of the app (monitor,
// tls) share: the metrics path, scraping, the timeout and the connection
// limit.
func CheckFront(metricsPath string, so scrape.Options, timeout string, maxConnections int) error {
	if err := validate.HTTPPath("metricsPath", metricsPath); err != nil {
		return err
	}
	if err := so.Validate(); err != nil {
		return err
	}
	if _, err := validate.PositiveDuration("timeout", timeout); err != nil {
		return err
	}
	if maxConnections < 1 {
		return fmt.Errorf("maxConnections: must be at least 1")
	}
	return nil
}

// Deploy renders the pattern's haproxy.cfg template with data into the
// ConfigMap <workload>-<pattern>, then adds its volume and the HAProxy
// container (Inject; s.ConfigMap is set here).
func Deploy(w *transform.Workload, template string, data any, s Spec) error {
	cfg, err := render(template, data)
	if err != nil {
		return err
	}
	if s.ConfigMap, err = w.AddConfigMap("", map[string]string{"haproxy.cfg": cfg}); err != nil {
		return err
	}
	return Inject(w, s)
}
