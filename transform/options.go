package transform

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/sidecarize/sidecarize/internal/validate"
)

// SetOption sets one option from a string, as flags (--set monitor.port=http)
// and annotations (sidecarize.dev/monitor.port: http) give them. path is the
// option's dotted path after the pattern name, following json tags; a list of
// named entries (ambassadors) takes the entry's name as a path element.
// Scalars are parsed by the field's type; lists of strings accept
// "a,b"; anything else accepts YAML or JSON ("{cpu: 100m}").
func SetOption(opts any, path string, value string) error {
	v := reflect.ValueOf(opts)
	if v.Kind() != reflect.Pointer {
		return fmt.Errorf("options must be a pointer, got %T", opts)
	}
	if path == "" {
		return fmt.Errorf("empty option name")
	}
	return setPath(v.Elem(), strings.Split(path, "."), value, "")
}

func setPath(v reflect.Value, path []string, value, done string) error {
	if len(path) == 0 {
		return setLeaf(v, value, done)
	}
	seg := path[0]
	here := seg
	if done != "" {
		here = done + "." + seg
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return setPath(v.Elem(), path, value, done)
	case reflect.Struct:
		f, ok := fieldByJSON(v, seg)
		if !ok {
			if i, named := byNameField(v.Type()); named {
				// seg names an entry. <entry>.<setting of the struct> is
				// the older spelling of <setting>, from when the entries
				// carried the settings of the whole.
				if len(path) > 1 {
					_, ofEntry := fieldByJSON(reflect.New(v.Field(i).Type().Elem()).Elem(), path[1])
					if g, ofWhole := fieldByJSON(v, path[1]); ofWhole && !ofEntry {
						return setPath(g, path[2:], value, here+"."+path[1])
					}
				}
				return setPath(v.Field(i), path, value, done)
			}
			names := jsonNames(v.Type())
			if len(names) == 0 {
				break // a value read whole (a resource.Quantity)
			}
			return fmt.Errorf("%s: unknown option (options: %s)", here, strings.Join(names, ", "))
		}
		return setPath(f, path[1:], value, here)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			break
		}
		// The key's type may be a named string (corev1.ResourceName).
		key := reflect.ValueOf(seg).Convert(v.Type().Key())
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if old := v.MapIndex(key); old.IsValid() {
			elem.Set(old)
		}
		if err := setPath(elem, path[1:], value, here); err != nil {
			return err
		}
		v.SetMapIndex(key, elem)
		return nil
	case reflect.Slice:
		et := v.Type().Elem()
		if et.Kind() == reflect.Struct {
			if _, ok := et.FieldByName("Name"); ok {
				for i := 0; i < v.Len(); i++ {
					if v.Index(i).FieldByName("Name").String() == seg {
						return setPath(v.Index(i), path[1:], value, here)
					}
				}
				e := reflect.New(et).Elem()
				e.FieldByName("Name").SetString(seg)
				v.Set(reflect.Append(v, e))
				return setPath(v.Index(v.Len()-1), path[1:], value, here)
			}
		}
	}
	return fmt.Errorf("%s: %s has no sub-options", here, done)
}

func setLeaf(v reflect.Value, value, name string) error {
	bad := func(want string) error { return fmt.Errorf("%s: %q: expected %s", name, value, want) }
	switch v.Kind() {
	case reflect.String:
		v.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad("true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(value, 10, v.Type().Bits())
		if _, ferr := strconv.ParseFloat(value, 64); err != nil && ferr == nil {
			return validate.NumberOutOfRange(name, strconv.Quote(value))
		}
		if err != nil {
			return bad("a whole number")
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return bad("a number")
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String && !strings.HasPrefix(strings.TrimSpace(value), "[") {
			var list []string
			for _, s := range strings.Split(value, ",") {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
			v.Set(reflect.ValueOf(list).Convert(v.Type()))
			return nil
		}
		fallthrough
	default:
		js, err := yaml.YAMLToJSON([]byte(value))
		if err != nil {
			return fmt.Errorf("%s: %q: %w", name, value, err)
		}
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		if err := strictJSON(js, p.Interface()); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		v.Set(p.Elem())
	}
	return nil
}

// byNameField finds the field of a struct tagged `options:"byname"`: a
// list of named entries (a Name field) addressed by name directly under the
// struct that holds it, the way the ambassador's upstreams are
// ambassador.<name>.<option> and not ambassador.upstreams.<name>.<option>.
// SetOption, the option docs, the consent check and the paths of explicit
// options follow it.
// The answer is kept per type: the engine asks for every pattern of every
// workload.
func byNameField(t reflect.Type) (int, bool) {
	if i, ok := byNameCache.Load(t); ok {
		return i.(int), i.(int) >= 0
	}
	i := -1
	for j := 0; j < t.NumField() && i < 0; j++ {
		if t.Field(j).Tag.Get("options") == "byname" {
			i = j
		}
	}
	byNameCache.Store(t, i)
	return i, i >= 0
}

var byNameCache sync.Map // reflect.Type -> field index, -1 for none

func fieldByJSON(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")[0]
		if tag == name {
			return v.Field(i), true
		}
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			if fv, ok := fieldByJSON(v.Field(i), name); ok {
				return fv, true
			}
		}
	}
	return reflect.Value{}, false
}

func jsonNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")[0]
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonNames(f.Type)...)
			continue
		}
		if tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// overlayJSON applies a config rule's options onto opts (JSON semantics:
// given fields replace, nested objects merge), rejecting unknown fields.
func overlayJSON(opts any, raw json.RawMessage) error {
	return strictJSON(nullToEmpty(raw), opts)
}
