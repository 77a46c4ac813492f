package logs

import (
	"fmt"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sidecarize/sidecarize/internal/validate"
	"github.com/sidecarize/sidecarize/templates"
	"github.com/sidecarize/sidecarize/transform"
)

// Names of what the pattern adds to the pod.
const (
	ContainerName  = transform.LogsContainer
	VolumeName     = transform.LogsVolume // the shared log directory (…-2, -3 for more)
	ConfigVolume   = transform.LogsConfigVolume
	DBVolume       = transform.LogsDBVolume
	ConfigFile     = "fluent-bit.yaml"
	ConfigDir      = "/fluent-bit/etc/sidecarize"
	DBDir          = "/fluent-bit/db"
	FluentBitBin   = "/fluent-bit/bin/fluent-bit"
	fieldEnvPrefix = "SIDECARIZE_FIELD_"
)

// Default images, pinned by tag (docs/contract.md#secure-defaults); override with the image option or
// spec.images["fluent-bit"] / spec.images["busybox"].
const (
	// FluentBitVersion is the default image's release, whose documented
	// keys the generated config uses (checked key by key in the tests).
	// The tests run the configs under Fluent Bit 5.1.1 (FLUENT_BIT_BIN):
	// 5.1.4 is a patch release of the same minor, not run here (README,
	// "Images and what is proven").
	FluentBitVersion = "5.1.4"
	FluentBitImage   = "fluent/fluent-bit:" + FluentBitVersion
	// TailImage is busybox: its `tail -F` follows a file by name across
	// rotation (rename + new file, or truncation).
	TailImage = "busybox:1.37.0"
)

// Engines.
const (
	EngineFluentBit = "fluent-bit"
	EngineTail      = "tail"
)

// Options of the logs pattern.
type Options struct {
	// Files are the log files inside the app container.
	Files []string `json:"files,omitempty" doc:"log files in the app container: absolute paths, * ? [..] globs allowed in the file name (fluent-bit engine); one or more directories" consent:"logFiles"`
	// Container is the app container that writes them.
	Container string `json:"container,omitempty" doc:"app container writing the files (default: the first container)"`
	// Format of each line (record).
	Format string `json:"format,omitempty" doc:"json | logfmt | nginx | apache | clf | syslog | regex"`
	// Regex is the pattern of format regex.
	Regex string `json:"regex,omitempty" doc:"format regex: a pattern with named groups (?<name>...) that fluent-bit (Onigmo) and Go (RE2) read alike"`
	// Multiline is the start-of-record pattern.
	Multiline string `json:"multiline,omitempty" doc:"start-of-record pattern: lines not matching it continue the previous record (stack traces)"`
	// Engine is fluent-bit or tail.
	Engine string `json:"engine,omitempty" doc:"fluent-bit (parsers, fields, multiline) | tail (plain relay of JSON lines, like seed 2)"`
	// Fields are added to every record.
	Fields map[string]string `json:"fields,omitempty" doc:"fields added to every record that has no key of that name (the app's keys win); a value fieldRef:<path> takes it from the downward API (fieldRef:metadata.name)"`
	// SizeLimit bounds the shared emptyDir.
	SizeLimit string `json:"sizeLimit,omitempty" doc:"sizeLimit of the emptyDir shared with the app"`
	// RunAsUser is the adapter's UID (it must be able to read the files).
	RunAsUser *int64 `json:"runAsUser,omitempty" doc:"UID of the adapter (default: the pod's non-root runAsUser, else 65532); it must be able to read the files"`
	// RunAsGroup is the adapter's GID.
	RunAsGroup *int64 `json:"runAsGroup,omitempty" doc:"GID of the adapter (default: runAsUser's value, or 65532)"`
	// Image overrides the engine's default image.
	Image string `json:"image,omitempty" doc:"adapter image (default fluent/fluent-bit:5.1.4 or busybox:1.37.0 by engine)" consent:"images"`
	// Resources overrides the container's requests and limits.
	Resources *corev1.ResourceRequirements `json:"resources,omitempty" doc:"requests and limits of the adapter container"`
}

// Default returns the defaults.
func Default() *Options {
	return &Options{
		Format:    "json",
		Engine:    EngineFluentBit,
		SizeLimit: "512Mi",
	}
}

// downward API fields an env var can take (Kubernetes' fieldRef for env).
var envFieldPaths = map[string]bool{
	"metadata.name": true, "metadata.namespace": true, "metadata.uid": true,
	"spec.nodeName": true, "spec.serviceAccountName": true,
	"status.hostIP": true, "status.podIP": true,
}

func fieldRef(v string) (string, bool) {
	p, ok := strings.CutPrefix(v, "fieldRef:")
	return strings.TrimSpace(p), ok
}

func validFieldPath(p string) bool {
	if envFieldPaths[p] {
		return true
	}
	for _, pre := range []string{"metadata.labels['", "metadata.annotations['"} {
		if rest, ok := strings.CutPrefix(p, pre); ok {
			return strings.HasSuffix(rest, "']") && len(rest) > 2
		}
	}
	return false
}

// Validate checks option values.
func (o *Options) Validate() error {
	if len(o.Files) == 0 {
		return fmt.Errorf("files: name at least one log file (e.g. logs.files=/logs/app.log)")
	}
	switch o.Engine {
	case EngineFluentBit, EngineTail:
	default:
		return fmt.Errorf("engine: %q: must be fluent-bit or tail", o.Engine)
	}
	if o.Image != "" {
		if err := validate.Image("image", o.Image); err != nil {
			return err
		}
	}
	for _, f := range o.Files {
		if err := validFile(f, o.Engine); err != nil {
			return err
		}
	}
	switch o.Format {
	case "json", "logfmt", "nginx", "apache", "clf", "syslog":
		if o.Regex != "" {
			return fmt.Errorf("regex: only used with format regex (format is %s)", o.Format)
		}
	case "regex":
		if o.Regex == "" {
			return fmt.Errorf("regex: format regex needs a pattern with named groups, e.g. ^(?<level>[A-Z]+) (?<message>.*)$")
		}
		if err := checkPortableRegex("regex", o.Regex, true); err != nil {
			return err
		}
	default:
		return fmt.Errorf("format: %q: must be json, logfmt, nginx, apache, clf, syslog or regex", o.Format)
	}
	if o.Multiline != "" {
		if err := checkPortableRegex("multiline", o.Multiline, false); err != nil {
			return err
		}
		if o.Format == "json" {
			return fmt.Errorf("multiline: a JSON record is one line; multiline is for text formats (set format, e.g. regex)")
		}
	}
	keys := sortedKeys(o.Fields)
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, " \t\n'\"$") {
			return fmt.Errorf("fields: %q: a field name has no spaces, quotes or $", k)
		}
		v := o.Fields[k]
		if p, ok := fieldRef(v); ok {
			if !validFieldPath(p) {
				return fmt.Errorf("fields.%s: %q: fieldRef takes metadata.name, metadata.namespace, metadata.uid, metadata.labels['key'], metadata.annotations['key'], spec.nodeName, spec.serviceAccountName, status.podIP or status.hostIP", k, v)
			}
			continue
		}
		if v == "" || strings.ContainsAny(v, "\n\r") || strings.Contains(v, "${") {
			return fmt.Errorf("fields.%s: %q: a value is one non-empty line without ${", k, v)
		}
	}
	if o.Engine == EngineTail {
		// The relay passes lines through unchanged.
		switch {
		case o.Format != "json":
			return fmt.Errorf("format: %s needs engine fluent-bit; the tail engine relays lines as they are (apps that write JSON)", o.Format)
		case o.Multiline != "":
			return fmt.Errorf("multiline: needs engine fluent-bit; the tail engine relays lines as they are")
		case len(o.Fields) > 0:
			return fmt.Errorf("fields: need engine fluent-bit; the tail engine relays lines as they are")
		}
	}
	q, err := resource.ParseQuantity(o.SizeLimit)
	if err != nil || q.Sign() <= 0 {
		return fmt.Errorf("sizeLimit: %q: expected a positive quantity like 512Mi", o.SizeLimit)
	}
	for _, id := range []struct {
		name string
		v    *int64
	}{{"runAsUser", o.RunAsUser}, {"runAsGroup", o.RunAsGroup}} {
		if id.v != nil && *id.v <= 0 {
			return fmt.Errorf("%s: %d: the adapter runs as non-root (a positive ID)", id.name, *id.v)
		}
	}
	return nil
}

// validFile: an absolute, clean path; globs only in the file name (the
// directory is what gets mounted) and only for fluent-bit (busybox tail
// follows named files).
func validFile(f, engine string) error {
	if !path.IsAbs(f) || path.Clean(f) != f || strings.HasSuffix(f, "/") {
		return fmt.Errorf("files: %q: must be an absolute, clean file path like /logs/app.log", f)
	}
	if strings.ContainsAny(f, ", \t\n'\"\\") {
		return fmt.Errorf("files: %q: commas, quotes, spaces and backslashes are not supported in paths", f)
	}
	if strings.Contains(f, "$") {
		return fmt.Errorf("files: %q: $ is not supported in paths (fluent-bit expands ${VAR} in its config, Kubernetes $(VAR) in the tail engine's arguments: another file would be read)", f)
	}
	dir, base := path.Split(f)
	if dir == "/" {
		return fmt.Errorf("files: %q: the file must be in a directory other than / (that directory is mounted as a volume)", f)
	}
	if engine == EngineFluentBit && strings.HasPrefix(f, "/fluent-bit/") {
		return fmt.Errorf("files: %q: /fluent-bit is the adapter image's own directory (config and database); the app's log directory must be elsewhere", f)
	}
	if strings.ContainsAny(dir, "*?[") {
		return fmt.Errorf("files: %q: globs are allowed in the file name only, not in the directory", f)
	}
	if strings.ContainsAny(base, "*?[") {
		if engine == EngineTail {
			return fmt.Errorf("files: %q: the tail engine follows named files; use engine fluent-bit for globs", f)
		}
		if _, err := path.Match(base, ""); err != nil {
			return fmt.Errorf("files: %q: %v", f, err)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Pattern is the logs pattern.
type Pattern struct{}

var _ transform.Pattern = Pattern{}

// Name implements transform.Pattern.
func (Pattern) Name() string { return "logs" }

// ConfigKey implements transform.Pattern.
func (Pattern) ConfigKey() string { return "logs" }

// ImageKeys implements transform.ImageUser: the spec.images keys it reads.
func (Pattern) ImageKeys() []string { return []string{"fluent-bit", "busybox"} }

// Summary implements transform.Pattern.
func (Pattern) Summary() string {
	return "adapter: log files in a shared emptyDir, turned into one JSON object per line on stdout (fluent-bit or tail)"
}

// NewOptions implements transform.Pattern.
func (Pattern) NewOptions() transform.Options { return Default() }

// Inject implements transform.Pattern.
func (Pattern) Inject(w *transform.Workload, opts transform.Options) error {
	o := opts.(*Options)
	ps, err := w.PodSpec()
	if err != nil {
		return err
	}
	app, err := appContainer(ps, o.Container)
	if err != nil {
		return err
	}
	mounts, err := shareDirs(w, ps, app, o)
	if err != nil {
		return err
	}
	uid, gid := runAs(ps, o)
	c := corev1.Container{
		Name:            ContainerName,
		VolumeMounts:    mounts,
		SecurityContext: &corev1.SecurityContext{RunAsUser: uid, RunAsGroup: gid},
	}
	if o.Resources != nil {
		c.Resources = *o.Resources
	}
	switch o.Engine {
	case EngineTail:
		c.Image = image(w, o, "busybox", TailImage)
		c.Command = TailCommand(o.Files)
	default:
		if err := fluentBit(w, o, &c); err != nil {
			return err
		}
	}
	return w.AddContainer(c)
}

// runAs picks the adapter's user and group: the options; else the pod's own
// non-root runAsUser/runAsGroup (the app's user, who can read its files even
// when they are not world-readable); else nil, and the engine's non-root
// default (65532) applies. A group left unset follows the user.
func runAs(ps *corev1.PodSpec, o *Options) (uid, gid *int64) {
	uid, gid = o.RunAsUser, o.RunAsGroup
	if sc := ps.SecurityContext; uid == nil && sc != nil && sc.RunAsUser != nil && *sc.RunAsUser > 0 {
		uid = sc.RunAsUser
		if gid == nil && sc.RunAsGroup != nil && *sc.RunAsGroup > 0 {
			gid = sc.RunAsGroup
		}
	}
	if uid != nil && gid == nil {
		g := *uid
		gid = &g
	}
	return uid, gid
}

// TailCommand is the tail engine's command: busybox tail reading each file
// from its first line (-n +1: lines written before the adapter started are
// kept), following it by name across rotation and re-creation (-F, which
// also waits for a file that does not exist yet), without "==> file <=="
// headers between files (-q).
func TailCommand(files []string) []string {
	return append([]string{"tail", "-n", "+1", "-q", "-F"}, files...)
}

func image(w *transform.Workload, o *Options, component, def string) string {
	if o.Image != "" {
		return o.Image
	}
	return w.Image(component, def)
}

// appContainer picks the app container writing the files.
func appContainer(ps *corev1.PodSpec, name string) (*corev1.Container, error) {
	if len(ps.Containers) == 0 {
		return nil, fmt.Errorf("the pod has no containers")
	}
	if name == "" {
		return &ps.Containers[0], nil
	}
	for i := range ps.Containers {
		if ps.Containers[i].Name == name {
			return &ps.Containers[i], nil
		}
	}
	return nil, fmt.Errorf("container: %q: no such container", name)
}

// shareDirs makes every log directory a volume shared by the app container
// and the adapter, and returns the adapter's (read-only) mounts. A directory
// already on a volume of the app container (mounted there or at a parent
// directory) reuses that volume; any other gets a new emptyDir mounted at
// the directory in the app container.
func shareDirs(w *transform.Workload, ps *corev1.PodSpec, app *corev1.Container, o *Options) ([]corev1.VolumeMount, error) {
	var dirs []string
	seen := map[string]bool{}
	for _, f := range o.Files {
		d := path.Dir(f)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	// Parents first, so a nested directory shares its parent's volume.
	sort.SliceStable(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") < strings.Count(dirs[j], "/") })
	sizeLimit := resource.MustParse(o.SizeLimit)
	var mounts []corev1.VolumeMount
	mounted := map[string]bool{} // adapter mountPaths
	n := 0
	for _, d := range dirs {
		if m := coveringMount(app.VolumeMounts, d); m != nil {
			// Reuse: the adapter sees the same volume at the same path.
			if !mounted[m.MountPath] {
				mounted[m.MountPath] = true
				mounts = append(mounts, corev1.VolumeMount{
					Name: m.Name, MountPath: m.MountPath, SubPath: m.SubPath,
					SubPathExpr: m.SubPathExpr, ReadOnly: true,
				})
			}
			continue
		}
		if covered(mounted, d) {
			continue // under a directory shared above (/logs, then /logs/audit)
		}
		n++
		name := VolumeName
		if n > 1 {
			name = fmt.Sprintf("%s-%d", VolumeName, n)
		}
		if err := w.AddVolume(corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &sizeLimit},
		}}); err != nil {
			return nil, err
		}
		if err := w.Mount(app.Name, corev1.VolumeMount{Name: name, MountPath: d}); err != nil {
			return nil, err
		}
		if why := shippedDir(d); why != "" {
			w.Warn("an emptyDir is mounted over %s in container %q: it hides whatever the image ships there (%s); prefer a dedicated log directory", d, app.Name, why)
		}
		mounted[d] = true
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: d, ReadOnly: true})
	}
	return mounts, nil
}

// covered reports whether dir is one of the shared directories or under one.
func covered(shared map[string]bool, dir string) bool {
	for d := dir; ; d = path.Dir(d) {
		if shared[d] {
			return true
		}
		if d == "/" {
			return false
		}
	}
}

// coveringMount is the app's mount at dir or at its nearest parent.
func coveringMount(ms []corev1.VolumeMount, dir string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i := range ms {
		p := path.Clean(ms[i].MountPath)
		if p == dir || p == "/" || strings.HasPrefix(dir, p+"/") {
			if best == nil || len(p) > len(path.Clean(best.MountPath)) {
				best = &ms[i]
			}
		}
	}
	return best
}

// shippedDir says why a directory likely holds files from the image: the
// system directories of the FHS, where base images and packages install
// files (nginx's and httpd's images ship /var/log/<name>/access.log as a
// symlink to /dev/stdout, for instance), and the usual application roots.
func shippedDir(d string) string {
	if d == "/var/log" || strings.HasPrefix(d, "/var/log/") {
		return "packages install log files and symlinks under /var/log"
	}
	for _, root := range []string{"/etc", "/usr", "/opt", "/var", "/srv", "/home", "/root", "/app", "/tmp", "/run", "/bin", "/sbin", "/lib"} {
		if d == root || strings.HasPrefix(d, root+"/") {
			return root + " is where images install files"
		}
	}
	return ""
}

// fbParser is one entry of the config's parsers section.
type fbParser struct {
	Name, Format, Regex, TimeKey, TimeFormat string
	NoBareKeys                               bool
}

type fbMultiline struct {
	Name, Start, Cont        string
	FlushMillis              int
	TrimParser, FormatParser string
}

type fbConfig struct {
	Workload, Version string
	Paths             string
	PathKey           string
	DB                string
	Parsers           []fbParser
	Multiline         *fbMultiline
	InputParser       string
	Fields            []string
}

// yq quotes a YAML scalar in single quotes (no escapes inside: a regex
// stays byte for byte what fluent-bit compiles).
func yq(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// modifyArg quotes one argument of a modify filter rule: fluent-bit splits
// a rule into words at spaces unless a word is double-quoted, and reads \"
// and \\ inside quotes as " and \ (an unquoted value with a space is
// silently dropped).
func modifyArg(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Names in the generated config.
const (
	// ParserName is the name of the generated format parser.
	ParserName = "sidecarize-format"
	// MultilineName is the name of the generated multiline parser.
	MultilineName = "sidecarize-multiline"
	// TrimParserName trims the newline a joined multi-line record ends with.
	TrimParserName = "sidecarize-trim"
	// TrimRegex keeps a joined record up to its last character that is not
	// a newline (a record of newlines only does not match and is left as
	// it is).
	TrimRegex = `^(?<log>[\s\S]*[^\n])\n*\z`
	// PathKey is the key the tail input writes the file name to; the
	// modify filter renames it to "file" unless the app's record has a
	// "file" key, and drops it otherwise. A record's own sidecarize_file
	// key is replaced by it.
	PathKey = "sidecarize_file"
	// FileKey is the key records carry their file name under when the
	// adapter follows more than one file.
	FileKey = "file"
)

// ContinuationRegex is the multiline rule for lines that do not start a
// record: a negative lookahead on the start pattern. It is the one Onigmo
// construct the config uses on purpose (RE2 has no look-around); the tests
// model it in Go as "does not match the start pattern".
func ContinuationRegex(start string) string { return "/^(?!" + start + ")/" }

// FluentBitConfig renders the fluent-bit YAML config for the options.
func FluentBitConfig(ref string, o *Options, fieldEnv map[string]string) (string, error) {
	format := canonicalFormat(o.Format)
	p := fbParser{Name: ParserName, Format: format, NoBareKeys: format == "logfmt"}
	if re := FormatRegex(o.Format, o.Regex); re != "" {
		p.Format = "regex"
		p.Regex = yq(re)
	}
	if t, ok := formatTime[format]; ok {
		p.TimeKey, p.TimeFormat = t[0], yq(t[1])
	}
	paths := strings.Join(o.Files, ",")
	cfg := fbConfig{
		Workload: ref, Version: FluentBitVersion,
		Paths:   yq(paths),
		DB:      DBDir + "/tail.db",
		Parsers: []fbParser{p},
	}
	if len(o.Files) > 1 || strings.ContainsAny(paths, "*?[") {
		cfg.PathKey = PathKey
	}
	if o.Multiline != "" {
		cfg.Multiline = &fbMultiline{
			Name: MultilineName, Start: yq("/" + o.Multiline + "/"),
			Cont: yq(ContinuationRegex(o.Multiline)), FlushMillis: 2000,
			TrimParser: TrimParserName, FormatParser: ParserName,
		}
		cfg.Parsers = append(cfg.Parsers, fbParser{Name: TrimParserName, Format: "regex", Regex: yq(TrimRegex)})
	} else {
		cfg.InputParser = ParserName
	}
	for _, k := range sortedKeys(o.Fields) {
		v := o.Fields[k]
		if _, ok := fieldRef(v); ok {
			v = "${" + fieldEnv[k] + "}"
		}
		cfg.Fields = append(cfg.Fields, yq(modifyArg(k)+" "+modifyArg(v)))
	}
	return templates.Render("logs-fluent-bit.yaml.tmpl", cfg)
}

// fluentBit fills in the fluent-bit container: config ConfigMap, DB emptyDir,
// downward-API env vars for fields.
func fluentBit(w *transform.Workload, o *Options, c *corev1.Container) error {
	fieldEnv := map[string]string{}
	for i, k := range sortedKeys(o.Fields) {
		p, ok := fieldRef(o.Fields[k])
		if !ok {
			continue
		}
		name := fmt.Sprintf("%s%d", fieldEnvPrefix, i)
		fieldEnv[k] = name
		c.Env = append(c.Env, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: p},
		}})
	}
	cfg, err := FluentBitConfig(w.Ref(), o, fieldEnv)
	if err != nil {
		return err
	}
	cm, err := w.AddConfigMap("", map[string]string{ConfigFile: cfg})
	if err != nil {
		return err
	}
	if err := w.AddVolume(corev1.Volume{Name: ConfigVolume, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}},
	}}); err != nil {
		return err
	}
	dbLimit := resource.MustParse("64Mi")
	if err := w.AddVolume(corev1.Volume{Name: DBVolume, VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &dbLimit},
	}}); err != nil {
		return err
	}
	c.Image = image(w, o, "fluent-bit", FluentBitImage)
	c.Command = []string{FluentBitBin}
	c.Args = []string{"-c", ConfigDir + "/" + ConfigFile}
	c.VolumeMounts = append(c.VolumeMounts,
		corev1.VolumeMount{Name: ConfigVolume, MountPath: ConfigDir, ReadOnly: true},
		corev1.VolumeMount{Name: DBVolume, MountPath: DBDir},
	)
	return nil
}
