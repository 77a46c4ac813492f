package transform

import (
	"fmt"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Annotations come from whoever writes the manifest; the config (and the
// command line) from whoever runs sidecarize. An annotation may choose
// patterns and tune them (ports, paths, timeouts, formats …) on its own. The
// options that reach beyond the workload's own pod need the config's consent
// (spec.annotations.allow); each is one of these categories, declared on the
// option's field with a `consent:"…"` tag (resources: by type):
const (
	// ConsentImages: which image a helper runs.
	ConsentImages = "images"
	// ConsentExporters: a custom exporter's or a preset's extra arguments
	// and environment.
	ConsentExporters = "exporters"
	// ConsentSecrets: Secrets mounted into or referenced by a helper (and
	// cert-manager issuers that write them).
	ConsentSecrets = "secrets"
	// ConsentCollectors: where traces are sent.
	ConsentCollectors = "collectors"
	// ConsentResources: requests and limits above spec.annotations.maxResources.
	ConsentResources = "resources"
	// ConsentLogFiles: log files outside the app's data: on a volume that
	// is not an emptyDir, a PersistentVolumeClaim or an ephemeral volume (a
	// Secret, ConfigMap, projected, hostPath, CSI … volume), which the
	// adapter would mount and print.
	ConsentLogFiles = "logFiles"
)

// ConsentCategories lists the categories spec.annotations.allow accepts.
var ConsentCategories = []string{ConsentImages, ConsentExporters, ConsentSecrets, ConsentCollectors, ConsentResources, ConsentLogFiles}

// DefaultMaxResources is the ceiling of requests and limits an annotation
// may set without the config's consent, per container.
var DefaultMaxResources = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("1"),
	corev1.ResourceMemory: resource.MustParse("1Gi"),
}

// AnnotationPolicy is spec.annotations of the config: what the manifest's
// sidecarize.dev/<pattern>.<option> annotations may set beyond tuning.
type AnnotationPolicy struct {
	// Allow lists the consent categories annotations may set.
	Allow []string `json:"allow,omitempty"`
	// MaxResources is the ceiling of each request and limit an annotation
	// may set (default cpu: 1, memory: 1Gi); a resource it does not name
	// needs the resources category.
	MaxResources map[string]string `json:"maxResources,omitempty"`
}

func (p *AnnotationPolicy) validate() error {
	if p == nil {
		return nil
	}
	for i, a := range p.Allow {
		if !contains(ConsentCategories, a) {
			return fmt.Errorf("spec.annotations.allow[%d]: %q: unknown (categories: %s)", i, a, strings.Join(ConsentCategories, ", "))
		}
	}
	for name, v := range p.MaxResources {
		if _, err := resource.ParseQuantity(v); err != nil {
			return fmt.Errorf("spec.annotations.maxResources.%s: %q: not a quantity (e.g. 500m, 1Gi)", name, v)
		}
	}
	return nil
}

func (p *AnnotationPolicy) allows(category string) bool {
	return p != nil && contains(p.Allow, category)
}

func (p *AnnotationPolicy) maxResources() corev1.ResourceList {
	if p == nil || p.MaxResources == nil {
		return DefaultMaxResources
	}
	ceiling := corev1.ResourceList{}
	for name, v := range p.MaxResources {
		q, err := resource.ParseQuantity(v) // checked by validate; else 0
		if err != nil {
			q = resource.Quantity{}
		}
		ceiling[corev1.ResourceName(name)] = q
	}
	return ceiling
}

// checkConsent compares a pattern's options without the annotations (base)
// and with them (final): every option with a consent category that the
// annotations changed must be allowed by the policy (or, for resources and
// log files, stay within what needs no consent). annKeys are the
// annotations that set the pattern's options, to name the culprit. Each
// refusal is one error naming the workload, the annotation and the option.
func (w *Workload) checkConsent(pat Pattern, base, final Options, policy *AnnotationPolicy, annKeys []string) []error {
	var errs []error
	var walkErr error
	visit := func(field, category string, b, f reflect.Value) {
		if reflect.DeepEqual(b.Interface(), f.Interface()) || policy.allows(category) {
			return
		}
		why := ""
		switch category {
		case ConsentResources:
			over := overCeiling(f, policy.maxResources())
			if len(over) == 0 {
				return
			}
			why = "resources above spec.annotations.maxResources (" + strings.Join(over, ", ") + ")"
		case ConsentLogFiles:
			outside, err := w.logFilesOutsideAppData(f)
			if err != nil {
				walkErr = err
				return
			}
			if len(outside) == 0 {
				return
			}
			why = "log files outside the app's data (" + strings.Join(outside, "; ") + ")"
		default:
			why = consentWhat[category]
		}
		errs = append(errs, w.failAt(fmt.Sprintf("metadata.annotations[%q]", culprit(pat.Name(), field, annKeys)),
			fmt.Errorf("%s.%s: %s need the config's consent: add %q to spec.annotations.allow in the sidecarize config, or set the option in the config itself", pat.Name(), field, why, category)))
	}
	walkConsent(reflect.ValueOf(base), reflect.ValueOf(final), "", "", visit)
	if walkErr != nil {
		return []error{walkErr}
	}
	return errs
}

var consentWhat = map[string]string{
	ConsentImages:     "images",
	ConsentExporters:  "exporter arguments and environment",
	ConsentSecrets:    "Secrets (mounted, referenced or issued)",
	ConsentCollectors: "trace collectors",
}

// culprit returns the annotation that set field (the first of annKeys whose
// option path is the field, under it or above it).
func culprit(pattern, field string, annKeys []string) string {
	for _, k := range annKeys {
		rest := strings.TrimPrefix(k, AnnotationPrefix+pattern+".")
		if rest == field || strings.HasPrefix(rest, field+".") || strings.HasPrefix(field, rest+".") {
			return k
		}
	}
	if len(annKeys) > 0 {
		return annKeys[0]
	}
	return AnnotationPrefix + pattern + "." + field
}

var resourceRequirementsType = reflect.TypeOf(corev1.ResourceRequirements{})

// walkConsent walks two values of one options type side by side and calls
// visit for every field with a consent category (a `consent` tag, or
// resources by type), with its dotted option path as SetOption takes it
// (entries of named lists by name).
func walkConsent(b, f reflect.Value, field, category string, visit func(field, category string, b, f reflect.Value)) {
	if !f.IsValid() {
		return
	}
	t := f.Type()
	if t == resourceRequirementsType || t.Kind() == reflect.Pointer && t.Elem() == resourceRequirementsType {
		category = ConsentResources
	}
	if category != "" {
		if !b.IsValid() {
			b = reflect.Zero(t)
		}
		visit(field, category, b, f)
		return
	}
	join := func(name string) string {
		if field == "" {
			return name
		}
		return field + "." + name
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if f.IsNil() {
			return
		}
		if !b.IsValid() || b.IsNil() {
			b = reflect.Value{}
		} else {
			b = b.Elem()
		}
		walkConsent(b, f.Elem(), field, "", visit)
	case reflect.Struct:
		for i, sf := range consentFieldsOf(t) {
			if !sf.exported || sf.leaf {
				continue
			}
			var bf reflect.Value
			if b.IsValid() {
				bf = b.Field(i)
			}
			name := sf.json
			if sf.anonymous && name == "" {
				walkConsent(bf, f.Field(i), field, sf.consent, visit)
				continue
			}
			if name == "-" {
				continue
			}
			if sf.byName { // entries by name, under field
				walkConsent(bf, f.Field(i), field, sf.consent, visit)
				continue
			}
			if name == "" {
				name = sf.name
			}
			walkConsent(bf, f.Field(i), join(name), sf.consent, visit)
		}
	case reflect.Slice, reflect.Array:
		named := t.Elem().Kind() == reflect.Struct && hasNameField(t.Elem())
		for i := 0; i < f.Len(); i++ {
			e := f.Index(i)
			key := strconv.Itoa(i)
			var be reflect.Value
			if named {
				key = e.FieldByName("Name").String()
				if b.IsValid() {
					for j := 0; j < b.Len(); j++ {
						if b.Index(j).FieldByName("Name").String() == key {
							be = b.Index(j)
						}
					}
				}
			} else if b.IsValid() && i < b.Len() {
				be = b.Index(i)
			}
			walkConsent(be, e, join(key), "", visit)
		}
	case reflect.Map:
		keys := f.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			var be reflect.Value
			if b.IsValid() && !b.IsNil() {
				be = b.MapIndex(k)
			}
			walkConsent(be, f.MapIndex(k), join(fmt.Sprint(k)), "", visit)
		}
	}
}

// consentField is what walkConsent reads of a struct field, its tags
// parsed once per type.
type consentField struct {
	name, json, consent string // Go name, json name, consent tag
	exported, anonymous bool
	byName              bool // options:"byname"
	// leaf: a field walkConsent visits nothing in (no consent tag, and a
	// kind that holds no fields: bool, number, string).
	leaf bool
}

var consentFields sync.Map // reflect.Type -> []consentField

func consentFieldsOf(t reflect.Type) []consentField {
	if fs, ok := consentFields.Load(t); ok {
		return fs.([]consentField)
	}
	fs := make([]consentField, t.NumField())
	for i := range fs {
		sf := t.Field(i)
		fs[i] = consentField{
			name: sf.Name, json: strings.Split(sf.Tag.Get("json"), ",")[0], consent: sf.Tag.Get("consent"),
			exported: sf.IsExported(), anonymous: sf.Anonymous, byName: sf.Tag.Get("options") == "byname",
		}
		switch sf.Type.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Struct, reflect.Slice, reflect.Array, reflect.Map:
		default:
			fs[i].leaf = fs[i].consent == ""
		}
	}
	consentFields.Store(t, fs)
	return fs
}

func hasNameField(t reflect.Type) bool {
	f, ok := t.FieldByName("Name")
	return ok && f.Type.Kind() == reflect.String
}

// overCeiling lists the requests and limits above the ceiling, and those
// the ceiling does not name.
func overCeiling(v reflect.Value, ceiling corev1.ResourceList) []string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	rr := v.Interface().(corev1.ResourceRequirements)
	var over []string
	for _, l := range []struct {
		name string
		list corev1.ResourceList
	}{{"requests", rr.Requests}, {"limits", rr.Limits}} {
		names := make([]string, 0, len(l.list))
		for n := range l.list {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			q := l.list[corev1.ResourceName(n)]
			max, ok := ceiling[corev1.ResourceName(n)]
			switch {
			case !ok:
				over = append(over, fmt.Sprintf("%s.%s has no ceiling", l.name, n))
			case q.Cmp(max) > 0:
				over = append(over, fmt.Sprintf("%s.%s %s > %s", l.name, n, q.String(), max.String()))
			}
		}
	}
	return over
}

// logFilesOutsideAppData lists the files (a []string of absolute paths)
// whose directory is on a volume of an app container that does not hold
// what the app writes (appData): the adapter would mount that volume and
// print what it finds. Files elsewhere get a fresh emptyDir.
func (w *Workload) logFilesOutsideAppData(v reflect.Value) ([]string, error) {
	files, ok := v.Interface().([]string)
	if !ok {
		return nil, fmt.Errorf("internal error: a logFiles option is %s, not a list of paths", v.Type())
	}
	ps, err := w.PodSpec()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		dir := path.Dir(path.Clean(f))
		for _, c := range ps.Containers {
			for _, m := range c.VolumeMounts {
				mp := path.Clean(m.MountPath)
				if dir != mp && !strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/") {
					continue
				}
				vol := findVolume(ps.Volumes, m.Name)
				if vol == nil || !appData(vol) {
					out = append(out, fmt.Sprintf("%s: volume %q at %s in container %q is not an emptyDir, PersistentVolumeClaim or ephemeral volume", f, m.Name, m.MountPath, c.Name))
				}
			}
		}
	}
	return out, nil
}

// appData: a volume holding what the app writes.
func appData(v *corev1.Volume) bool {
	return v.EmptyDir != nil || v.PersistentVolumeClaim != nil || v.Ephemeral != nil
}

// consentNote is appended to an option's documentation when an annotation
// needs the config's consent to set it (or a part of it).
func consentNote(f reflect.StructField) string {
	cats := consentOf(f.Type, f.Tag.Get("consent"), map[reflect.Type]bool{})
	if len(cats) == 0 {
		return ""
	}
	var parts []string
	for _, c := range cats {
		switch c {
		case ConsentResources:
			parts = append(parts, "above spec.annotations.maxResources needs consent "+c)
		case ConsentLogFiles:
			parts = append(parts, "outside the app's data needs consent "+c)
		default:
			parts = append(parts, "needs consent "+c)
		}
	}
	return " (as an annotation: " + strings.Join(parts, "; ") + ")"
}

// consentOf lists the consent categories of a field and what it holds.
func consentOf(t reflect.Type, tag string, seen map[reflect.Type]bool) []string {
	if tag != "" {
		return []string{tag}
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t == resourceRequirementsType {
		return []string{ConsentResources}
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return nil
	}
	seen[t] = true
	var out []string
	for i := 0; i < t.NumField(); i++ {
		for _, c := range consentOf(t.Field(i).Type, t.Field(i).Tag.Get("consent"), seen) {
			if !contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// ConsentOption is an option an annotation needs the config's consent to
// set, for documentation and its tests.
type ConsentOption struct {
	Path     string // e.g. "exporter.image", "ambassador.<name>.ca"
	Category string
}

// ConsentOptions lists a pattern's options with a consent tag (resources,
// consented by type in every pattern, are left out).
func ConsentOptions(p Pattern) []ConsentOption {
	var out []ConsentOption
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Slice:
			if t.Elem().Kind() == reflect.Struct && hasNameField(t.Elem()) {
				walk(t.Elem(), path+".<name>")
			}
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				name := strings.Split(f.Tag.Get("json"), ",")[0]
				switch {
				case !f.IsExported() || name == "-":
				case f.Tag.Get("consent") != "":
					out = append(out, ConsentOption{Path: path + "." + name, Category: f.Tag.Get("consent")})
				case f.Anonymous && name == "", f.Tag.Get("options") == "byname":
					walk(f.Type, path)
				default:
					walk(f.Type, path+"."+name)
				}
			}
		}
	}
	walk(reflect.TypeOf(p.NewOptions()), p.Name())
	return out
}
