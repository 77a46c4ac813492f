package cli

import (
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/sidecarize/sidecarize/transform"
)

// A ConfigMap functionConfig is what kpt sends for `kpt fn eval --exec
// sidecarize -- key=value …` (and what a kustomize transformer may give).
// Its data keys are the command line's flags, so they form the same layer
// (the lowest, under a config file and annotations):
//
//	patterns        -p: patterns for the selected workloads (monitor,logs)
//	selector        -l: app=web[,tier=front]
//	kinds, names    --kind, --name (comma-separated)
//	kubeVersion     --kube-version
//	nativeSidecars  --native-sidecars
//	apiVersions     --api-versions (comma-separated)
//	config          a whole Sidecarize config (YAML), as with -c
//	<pattern>.<opt> --set <pattern>.<opt>=value, e.g. monitor.rules: "true"
//
// An empty ConfigMap (or none) leaves the annotations to decide, as the CLI
// does with no flags.

// configMapKeys are the fixed keys, for the error message.
var configMapKeys = []string{"patterns", "selector", "kinds", "names", "kubeVersion", "nativeSidecars", "apiVersions", "config"}

// applyConfigMap layers a ConfigMap functionConfig onto the engine.
func applyConfigMap(e *transform.Engine, fc *yaml.RNode) error {
	data := fc.GetDataMap()
	if bd := fc.GetBinaryDataMap(); len(bd) > 0 {
		return fmt.Errorf("functionConfig ConfigMap %s: binaryData: not read; put the settings in data", fc.GetName())
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fail := func(k, format string, args ...any) error {
		return fmt.Errorf("functionConfig ConfigMap %s: data.%s: %s", fc.GetName(), k, fmt.Sprintf(format, args...))
	}
	list := func(v string) []string {
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	for _, k := range keys {
		v := data[k]
		switch k {
		case "patterns", "pattern":
			for _, p := range list(v) {
				if !knownPattern(e.Patterns, p) {
					return fail(k, "%q: unknown pattern (patterns: %s)", p, strings.Join(names(e.Patterns), ", "))
				}
				e.Flags.Patterns = append(e.Flags.Patterns, p)
			}
		case "selector":
			e.Flags.Select.MatchLabels = map[string]string{}
			for _, kv := range list(v) {
				lk, lv, ok := strings.Cut(kv, "=")
				if !ok || strings.TrimSpace(lk) == "" {
					return fail(k, "%q: expected key=value[,key=value]", v)
				}
				e.Flags.Select.MatchLabels[strings.TrimSpace(lk)] = strings.TrimSpace(lv)
			}
		case "kinds":
			e.Flags.Select.Kinds = append(e.Flags.Select.Kinds, list(v)...)
		case "names":
			e.Flags.Select.Names = append(e.Flags.Select.Names, list(v)...)
		case "kubeVersion":
			if _, err := transform.ParseKubeVersion(v); err != nil {
				return fail(k, "%v", err)
			}
			e.Flags.KubeVersion = v
		case "nativeSidecars":
			switch v {
			case "auto", "true", "false":
			default:
				return fail(k, "%q: must be auto, true or false", v)
			}
			e.Flags.NativeSidecars = v
		case "apiVersions":
			for _, s := range list(v) {
				if err := transform.ValidAPIVersion(s); err != nil {
					return fail(k, "%v", err)
				}
				e.Flags.APIVersions = append(e.Flags.APIVersions, s)
			}
		case "config":
			if e.Config != nil {
				return fail(k, "a config is given twice (-c or SIDECARIZE_CONFIG, and this key)")
			}
			cfg, err := transform.LoadConfig("functionConfig ConfigMap "+fc.GetName()+" data.config", []byte(v), e.Patterns)
			if err != nil {
				return err
			}
			e.Config = cfg
		default:
			pn, opt, ok := strings.Cut(k, ".")
			if !ok || opt == "" || !knownPattern(e.Patterns, pn) {
				return fail(k, "unknown key (keys: %s, or <pattern>.<option> with a pattern of %s)", strings.Join(configMapKeys, ", "), strings.Join(names(e.Patterns), ", "))
			}
			e.Flags.Set = append(e.Flags.Set, k+"="+v)
		}
	}
	s := e.Flags.Select
	if (len(s.Kinds) > 0 || len(s.Names) > 0 || s.MatchLabels != nil) && len(e.Flags.Patterns) == 0 {
		return fmt.Errorf("functionConfig ConfigMap %s: selector, kinds and names select workloads for patterns; give data.patterns too", fc.GetName())
	}
	return nil
}
