package exporter

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/patterns/dashboard"
	"github.com/sidecarize/sidecarize/patterns/scrape"
	"github.com/sidecarize/sidecarize/transform"
)

// Names of what the pattern adds to the pod. The container is "exporter",
// as in seed 2's products-db; the port names avoid the monitor pattern's
// ("mon-metrics", Service port "metrics") so both compose on one workload.
const (
	ContainerName   = transform.ExporterContainer
	MetricsPortName = transform.ExporterMetricsPortName
	// ServicePortName is the port a ServiceMonitor scrapes on the Service.
	ServicePortName = transform.ExporterServicePort
)

// Types of exporter.
const (
	Postgres = "postgres"
	MySQL    = "mysql"
	MariaDB  = "mariadb"
	Redis    = "redis"
	MongoDB  = "mongodb"
	Nginx    = "nginx"
	Custom   = "custom"
)

// Options of the exporter pattern. There is deliberately no password option:
// credentials only come from a Secret (secretRef + keys): docs/contract.md#secure-defaults.
type Options struct {
	// Type is the preset.
	Type string `json:"type,omitempty" doc:"postgres | mysql | mariadb | redis | mongodb | nginx | custom (required)"`
	// Port is the app's port the exporter connects to (over loopback).
	Port string `json:"port,omitempty" doc:"app port the exporter connects to, name or number (default: the first declared port, else the preset's: 5432, 3306, 6379, 27017, 80)"`
	// SecretRef names the Secret holding the credentials: {name: db} (a
	// LocalObjectReference), or the bare name.
	SecretRef *validate.SecretRef `json:"secretRef,omitempty" doc:"the Secret with the credentials, {name: …} or its name (required for postgres and mysql/mariadb; optional for redis and mongodb)" consent:"secrets"`
	// PasswordKey is the Secret key holding the password.
	PasswordKey string `json:"passwordKey,omitempty" doc:"key of the password in the Secret"`
	// UsernameKey is the Secret key holding the user name; empty means the
	// username option (or the preset's default user).
	UsernameKey string `json:"usernameKey,omitempty" doc:"key of the user name in the Secret (default: use the username option)"`
	// Username is the user name when it is not in the Secret.
	Username string `json:"username,omitempty" doc:"user name when usernameKey is not set (default: postgres for postgres, root for mysql/mariadb, none for redis and mongodb)"`
	// Database is the PostgreSQL database to connect to.
	Database string `json:"database,omitempty" doc:"postgres: database to connect to"`
	// SSLMode is PostgreSQL's sslmode; the connection stays inside the pod.
	SSLMode string `json:"sslMode,omitempty" doc:"postgres: sslmode of the loopback connection: disable | allow | prefer | require | verify-ca | verify-full"`
	// StatusPath is nginx's stub_status location.
	StatusPath string `json:"statusPath,omitempty" doc:"nginx: path of the stub_status location"`
	// Image is the exporter image (custom), or overrides the preset's.
	Image string `json:"image,omitempty" doc:"exporter image, pinned by tag or digest (required for custom; presets: overrides spec.images.<type>-exporter and the default)" consent:"images"`
	// MetricsPort is where the exporter serves metrics.
	MetricsPort int32 `json:"metricsPort,omitempty" doc:"port of the exporter's metrics endpoint (required for custom; presets: 9187 postgres, 9104 mysql, 9121 redis, 9216 mongodb, 9113 nginx)"`
	// MetricsPath is the metrics URL path.
	MetricsPath string `json:"metricsPath,omitempty" doc:"path of the metrics endpoint"`
	// Args are the custom exporter's arguments, or extra arguments of a
	// preset's.
	Args []string `json:"args,omitempty" doc:"custom: the exporter's arguments; presets: extra arguments appended to the preset's" consent:"exporters"`
	// Env is the custom exporter's environment (credentials through
	// valueFrom.secretKeyRef only).
	Env []corev1.EnvVar `json:"env,omitempty" doc:"custom: environment of the exporter; credentials only through valueFrom.secretKeyRef" consent:"exporters"`
	scrape.Options
	// Rules adds a PrometheusRule with an alert while the exporter cannot
	// reach the app (its up gauge, e.g. pg_up, is 0).
	Rules bool `json:"rules,omitempty" doc:"add a PrometheusRule alerting while the exporter cannot reach the app (pg_up, mysql_up, redis_up, mongodb_up, nginx_up == 0); presets only"`
	// AlertFor is how long the app stays unreachable before the alert
	// fires (the rule's for:).
	AlertFor string `json:"alertFor,omitempty" doc:"how long the app is unreachable before the alert fires (the rule's for:)"`
	// Dashboard adds the exporter's health to the workload's Grafana
	// dashboard.
	Dashboard bool `json:"dashboard,omitempty" doc:"a panel in the workload's Grafana dashboard: the database's up metric (pg_up, mysql_up, redis_up, mongodb_up, nginx_up; custom: the scrape's up)"`
	// Resources overrides the container's requests and limits.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty" doc:"requests and limits of the exporter container"`
}

// Default returns the defaults. Per-preset values (image, ports, user) live
// in the preset table and apply where the options leave them empty.
func Default() *Options {
	return &Options{
		PasswordKey: "password",
		Database:    "postgres",
		SSLMode:     "disable",
		StatusPath:  "/stub_status",
		MetricsPath: "/metrics",
		Options:     scrape.Options{Scrape: scrape.Auto, Interval: "30s"},
		AlertFor:    "1m",
		Dashboard:   true,
	}
}

// preset is one supported exporter: its upstream image, ports, default user
// and how it takes its connection settings and credentials.
type preset struct {
	image string
	// up is the exporter's gauge that is 1 while it reaches the app, 0
	// when it cannot (the rules' alert, the dashboard's health panel).
	up          string
	metricsPort int32
	appPort     int32
	user        string
	// secret: "required", "optional" or "none".
	secret string
	// connect returns the args and env that point the exporter at the app
	// on loopback port p, with credentials from c.
	connect func(o *Options, p int32, c creds) ([]string, []corev1.EnvVar)
}

// creds are the credential env sources: user is a literal or a Secret
// reference (nil when there is none), pass a Secret reference or nil.
type creds struct {
	user     *corev1.EnvVarSource
	userName string
	pass     *corev1.EnvVarSource
}

// env returns name=user as a literal or from the Secret; nothing when no
// user is configured.
func (c creds) userEnv(name string) []corev1.EnvVar {
	switch {
	case c.user != nil:
		return []corev1.EnvVar{{Name: name, ValueFrom: c.user}}
	case c.userName != "":
		return []corev1.EnvVar{{Name: name, Value: c.userName}}
	}
	return nil
}

func (c creds) passEnv(name string) []corev1.EnvVar {
	if c.pass == nil {
		return nil
	}
	return []corev1.EnvVar{{Name: name, ValueFrom: c.pass}}
}

// The images are the upstream projects' own, pinned to their current
// releases (override per workload with the image option, or for every
// workload with spec.images.<type>-exporter).
var presets = map[string]preset{
	// prometheus-community/postgres_exporter: DATA_SOURCE_URI/USER/PASS are
	// read from the environment (DATA_SOURCE_PASS_FILE is the alternative).
	Postgres: {
		image: "prometheuscommunity/postgres-exporter:v0.20.1", up: "pg_up", metricsPort: 9187, appPort: 5432,
		user: "postgres", secret: "required",
		connect: func(o *Options, p int32, c creds) ([]string, []corev1.EnvVar) {
			env := []corev1.EnvVar{{Name: "DATA_SOURCE_URI", Value: postgresURI(p, o.Database, o.SSLMode)}}
			env = append(env, c.userEnv("DATA_SOURCE_USER")...)
			return nil, append(env, c.passEnv("DATA_SOURCE_PASS")...)
		},
	},
	// prometheus/mysqld_exporter (0.15+ dropped DATA_SOURCE_NAME): address
	// and user are flags, the password is MYSQLD_EXPORTER_PASSWORD. A user
	// from the Secret goes through Kubernetes' $(VAR) expansion of args.
	MySQL: {
		image: "prom/mysqld-exporter:v0.20.0", up: "mysql_up", metricsPort: 9104, appPort: 3306,
		user: "root", secret: "required",
		connect: func(o *Options, p int32, c creds) ([]string, []corev1.EnvVar) {
			args := []string{fmt.Sprintf("--mysqld.address=localhost:%d", p)}
			var env []corev1.EnvVar
			if c.user != nil {
				env = append(env, corev1.EnvVar{Name: "MYSQLD_EXPORTER_USERNAME", ValueFrom: c.user})
				args = append(args, "--mysqld.username=$(MYSQLD_EXPORTER_USERNAME)")
			} else {
				args = append(args, "--mysqld.username="+c.userName)
			}
			return args, append(env, c.passEnv("MYSQLD_EXPORTER_PASSWORD")...)
		},
	},
	// oliver006/redis_exporter: REDIS_ADDR, REDIS_USER, REDIS_PASSWORD.
	Redis: {
		image: "oliver006/redis_exporter:v1.91.1", up: "redis_up", metricsPort: 9121, appPort: 6379,
		secret: "optional",
		connect: func(o *Options, p int32, c creds) ([]string, []corev1.EnvVar) {
			env := []corev1.EnvVar{{Name: "REDIS_ADDR", Value: fmt.Sprintf("redis://localhost:%d", p)}}
			env = append(env, c.userEnv("REDIS_USER")...)
			return nil, append(env, c.passEnv("REDIS_PASSWORD")...)
		},
	},
	// percona/mongodb_exporter: --mongodb.uri without credentials; it adds
	// MONGODB_USER and MONGODB_PASSWORD from the environment.
	MongoDB: {
		image: "percona/mongodb_exporter:0.45.0", up: "mongodb_up", metricsPort: 9216, appPort: 27017,
		secret: "optional",
		connect: func(o *Options, p int32, c creds) ([]string, []corev1.EnvVar) {
			args := []string{fmt.Sprintf("--mongodb.uri=mongodb://localhost:%d", p)}
			env := c.userEnv("MONGODB_USER")
			return args, append(env, c.passEnv("MONGODB_PASSWORD")...)
		},
	},
	// nginx/nginx-prometheus-exporter reads nginx's stub_status page (the
	// app must enable `stub_status` at statusPath); no credentials.
	Nginx: {
		image: "nginx/nginx-prometheus-exporter:1.5.3", up: "nginx_up", metricsPort: 9113, appPort: 80,
		secret: "none",
		connect: func(o *Options, p int32, c creds) ([]string, []corev1.EnvVar) {
			return []string{fmt.Sprintf("--nginx.scrape-uri=http://localhost:%d%s", p, o.StatusPath)}, nil
		},
	},
}

func init() { presets[MariaDB] = presets[MySQL] }

// postgresURI is the exporter's DATA_SOURCE_URI (host:port/database?query):
// the database is path-escaped and the query built by net/url, so no option
// can add a parameter (a host, a password) next to the Secret's credentials.
func postgresURI(port int32, database, sslMode string) string {
	q := url.Values{"sslmode": {sslMode}}
	return fmt.Sprintf("localhost:%d/%s?%s", port, url.PathEscape(database), q.Encode())
}

// sslModes are PostgreSQL's sslmode values.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// Types lists the supported types, sorted.
func Types() []string {
	out := []string{Custom}
	for t := range presets {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

var (
	// Names of env vars that hold credentials.
	credentialName = regexp.MustCompile(`(?i)(pass|secret|token|credential|api_?key|private)`)
	// A URL with a password in its userinfo (scheme://user:pass@host).
	urlWithPassword = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:[^/@\s]+@`)
	// An argument that sets a password or token inline (a file path or a
	// $(VAR) expansion of an env var from a Secret is fine).
	credentialArg = regexp.MustCompile(`(?i)^-{1,2}[a-z0-9._-]*(pass|password|secret|token)[a-z0-9._-]*=[^/$]`)
)

// Validate checks option values.
func (o *Options) Validate() error {
	if o.Type == "" {
		return fmt.Errorf("type: required: one of %s", strings.Join(Types(), ", "))
	}
	p, isPreset := presets[o.Type]
	if !isPreset && o.Type != Custom {
		return fmt.Errorf("type: %q: must be one of %s", o.Type, strings.Join(Types(), ", "))
	}
	if o.MetricsPort != 0 {
		if err := validate.ListenPort("metricsPort", o.MetricsPort); err != nil {
			return err
		}
	}
	if err := validate.HTTPPath("metricsPath", o.MetricsPath); err != nil {
		return err
	}
	if o.Image != "" {
		if err := validate.Image("image", o.Image); err != nil {
			return err
		}
	}
	if o.SecretRef.IsSet() {
		if err := o.SecretRef.Validate("secretRef"); err != nil {
			return err
		}
	}
	if err := o.Options.Validate(); err != nil {
		return err
	}
	if o.Rules {
		if !isPreset {
			return fmt.Errorf("rules: type custom has no known up metric to alert on")
		}
		if err := o.Options.CheckRules(); err != nil {
			return err
		}
	}
	if err := scrape.CheckAlertFor("alertFor", o.AlertFor); err != nil {
		return err
	}
	for i, a := range o.Args {
		if credentialArg.MatchString(a) || urlWithPassword.MatchString(a) {
			return fmt.Errorf("args[%d]: %q sets a credential inline; pass it from a Secret (env with valueFrom.secretKeyRef, then $(VAR) in args)", i, a)
		}
	}
	if o.Type == Custom {
		if o.Image == "" {
			return fmt.Errorf("image: type custom needs the exporter's image")
		}
		if o.MetricsPort == 0 {
			return fmt.Errorf("metricsPort: type custom needs the exporter's metrics port")
		}
		if o.SecretRef.IsSet() || o.UsernameKey != "" {
			return fmt.Errorf("secretRef: type custom takes its credentials in env, with valueFrom.secretKeyRef")
		}
	} else if len(o.Env) > 0 {
		return fmt.Errorf("env: only type custom takes env (the %s preset sets its own)", o.Type)
	}
	for i, e := range o.Env {
		if err := validate.EnvName(fmt.Sprintf("env[%d].name", i), e.Name); err != nil {
			return err
		}
		if e.Value != "" && e.ValueFrom != nil {
			return fmt.Errorf("env[%d] (%s): value and valueFrom are exclusive", i, e.Name)
		}
		if e.Value != "" && (credentialName.MatchString(e.Name) || urlWithPassword.MatchString(e.Value)) {
			return fmt.Errorf("env[%d] (%s): credentials are never inline; use valueFrom.secretKeyRef", i, e.Name)
		}
	}
	if !isPreset {
		return nil
	}
	switch {
	case p.secret == "required" && !o.SecretRef.IsSet():
		return fmt.Errorf("secretRef: the %s exporter needs the database password: name a Secret holding it under key %q (passwordKey)", o.Type, o.PasswordKey)
	case p.secret == "none" && (o.SecretRef.IsSet() || o.UsernameKey != ""):
		return fmt.Errorf("secretRef: the %s exporter takes no credentials", o.Type)
	}
	if o.UsernameKey != "" && !o.SecretRef.IsSet() {
		return fmt.Errorf("usernameKey: needs secretRef")
	}
	if o.SecretRef.IsSet() && o.PasswordKey == "" {
		return fmt.Errorf("passwordKey: must not be empty when secretRef is set")
	}
	// What reaches a secretKeyRef, an env var, an argument or the URI.
	if o.SecretRef.IsSet() {
		if err := validate.SecretKey("passwordKey", o.PasswordKey); err != nil {
			return err
		}
	}
	if o.UsernameKey != "" {
		if err := validate.SecretKey("usernameKey", o.UsernameKey); err != nil {
			return err
		}
	}
	if o.Username != "" {
		if err := validate.DBName("username", o.Username); err != nil {
			return err
		}
	}
	if o.Type == Postgres {
		if err := validate.DBName("database", o.Database); err != nil {
			return err
		}
	}
	if o.Type == Postgres && !slices.Contains(sslModes, o.SSLMode) {
		return fmt.Errorf("sslMode: %q: must be one of %s", o.SSLMode, strings.Join(sslModes, ", "))
	}
	if o.Type == Nginx {
		if err := validate.HTTPPath("statusPath", o.StatusPath); err != nil {
			return err
		}
	}
	return nil
}

// Pattern is the exporter pattern.
type Pattern struct{}

var _ transform.Pattern = Pattern{}

// Name implements transform.Pattern.
func (Pattern) Name() string { return "exporter" }

// ConfigKey implements transform.Pattern.
func (Pattern) ConfigKey() string { return "exporter" }

// ImageKeys implements transform.ImageUser: spec.images.<type>-exporter for
// each preset (mariadb shares mysql's).
func (Pattern) ImageKeys() []string {
	var out []string
	for t := range presets {
		if t != MariaDB {
			out = append(out, t+"-exporter")
		}
	}
	sort.Strings(out)
	return out
}

// Summary implements transform.Pattern.
func (Pattern) Summary() string {
	return "sidecar: Prometheus exporter beside a database or nginx (postgres, mysql/mariadb, redis, mongodb, nginx, custom), credentials from a Secret"
}

// NewOptions implements transform.Pattern.
func (Pattern) NewOptions() transform.Options { return Default() }

// container returns the exporter container for the options, with the app
// listening on appPort.
func container(o *Options, image string, appPort int32) corev1.Container {
	port := o.MetricsPort
	var args []string
	var env []corev1.EnvVar
	if p, ok := presets[o.Type]; ok {
		if port == 0 {
			port = p.metricsPort
		}
		c := creds{}
		if o.SecretRef.IsSet() {
			c.pass = secretKey(o.SecretRef.Name, o.PasswordKey)
		}
		switch {
		case o.UsernameKey != "":
			c.user = secretKey(o.SecretRef.Name, o.UsernameKey)
		case o.Username != "":
			c.userName = o.Username
		default:
			c.userName = p.user
		}
		args, env = p.connect(o, appPort, c)
	} else {
		env = append(env, o.Env...)
	}
	if o.Type == Custom {
		args = o.Args
	} else {
		// Every preset takes the Prometheus exporter-toolkit flags (Go's
		// flag package, redis_exporter's, accepts the double dash too).
		args = append(args, "--web.listen-address=:"+strconv.Itoa(int(port)), "--web.telemetry-path="+o.MetricsPath)
		args = append(args, o.Args...)
	}
	c := corev1.Container{
		Name:  ContainerName,
		Image: image,
		Args:  args,
		Env:   env,
		Ports: []corev1.ContainerPort{{Name: MetricsPortName, ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		// A native sidecar needs a startup probe (docs/contract.md#native-sidecars); the exporter
		// listens as soon as it starts, whether or not the app is up yet.
		StartupProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}},
			PeriodSeconds:    1,
			FailureThreshold: 30,
		},
	}
	if o.Resources != nil {
		c.Resources = *o.Resources
	}
	return c
}

func secretKey(name, key string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key,
	}}
}

// Inject implements transform.Pattern.
func (Pattern) Inject(w *transform.Workload, opts transform.Options) error {
	o := opts.(*Options)
	var appPort int32
	image := o.Image
	if p, ok := presets[o.Type]; ok {
		appPort = p.appPort
		if o.Port != "" || declaresPort(w) {
			_, cp, err := w.ResolvePort(o.Port)
			if err != nil {
				return fmt.Errorf("port: %w", err)
			}
			appPort = cp.ContainerPort
		}
		if image == "" {
			comp := o.Type
			if comp == MariaDB {
				comp = MySQL
			}
			image = w.Image(comp+"-exporter", p.image)
		}
	}
	// The preset's metrics port moves to a free one when the pod already
	// uses it (the exporter is told where to listen); set explicitly, a
	// collision is an error.
	want := o.MetricsPort
	if p, ok := presets[o.Type]; ok && want == 0 {
		want = p.metricsPort
	}
	mp, err := w.Port("metricsPort", want, MetricsPortName)
	if err != nil {
		return err
	}
	o.MetricsPort = mp.ContainerPort
	c := container(o, image, appPort)
	c.Ports[0].Name = mp.Name
	if err := w.AddContainer(c); err != nil {
		return err
	}
	port := c.Ports[0].ContainerPort
	// A PrometheusRule is read by the Prometheus Operator only: asking for
	// one says the operator is there, so auto scrapes with its objects.
	so := o.Options
	so.Operator = o.Rules
	res, err := scrape.Apply(w, so, scrape.Endpoint{PortName: mp.Name, Port: port, Path: o.MetricsPath, ServicePort: ServicePortName})
	if err != nil {
		return err
	}
	if o.Dashboard {
		dashboard.Add(w, panels(w, o))
	}
	if !o.Rules {
		return nil
	}
	return w.AddObject(rules(w, o, presets[o.Type].up, res.Job))
}

// panels are the exporter's row of the workload's dashboard: whether the
// exporter reaches the app (the preset's up metric), or for a custom
// exporter whether its targets are scraped.
func panels(w *transform.Workload, o *Options) dashboard.Section {
	p := dashboard.Panel{Title: o.Type + " up", Health: true}
	if pr, ok := presets[o.Type]; ok {
		p.Description = fmt.Sprintf("1 while the exporter reaches %s (%s); 0: it is down or refuses the exporter.", o.Type, pr.up)
		p.Queries = []dashboard.Query{{Expr: fmt.Sprintf("min(%s{%s})", pr.up, dashboard.Selector(w)), Legend: o.Type}}
	} else {
		p.Title = "Scrape targets up"
		p.Description = "1 while Prometheus scrapes every metrics endpoint of the pods (up)."
		p.Queries = []dashboard.Query{{Expr: fmt.Sprintf("min(up{%s})", dashboard.Selector(w)), Legend: "up"}}
	}
	return dashboard.Section{Title: "exporter: " + o.Type, Panels: []dashboard.Panel{p}}
}

// declaresPort: does any app container declare a port?
func declaresPort(w *transform.Workload) bool {
	ps, err := w.PodSpec()
	if err != nil {
		return false
	}
	for _, c := range ps.Containers {
		if len(c.Ports) > 0 {
			return true
		}
	}
	return false
}
