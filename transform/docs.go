package transform

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// OptionDoc documents one option of a pattern, for `sidecarize patterns` and
// the README: the options struct (json and doc tags, Default()) is the single
// source.
type OptionDoc struct {
	Name       string // dotted path, e.g. "circuitBreaker.consecutiveErrors"
	Type       string
	Default    string
	Doc        string
	Annotation string
}

// DescribeOptions walks a pattern's defaulted options.
func DescribeOptions(p Pattern) []OptionDoc {
	opts := p.NewOptions()
	v := reflect.ValueOf(opts)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var out []OptionDoc
	if v.Kind() == reflect.Struct {
		if i, ok := byNameField(v.Type()); ok {
			describeList(opts, v.Field(i), p.Name(), &out)
		}
		describe(v, "", p.Name(), &out)
	}
	if v.Kind() == reflect.Slice {
		describeList(opts, v, p.Name(), &out)
	}
	return out
}

func describe(v reflect.Value, prefix, pattern string, out *[]OptionDoc) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("json"), ",")[0]
		fv := v.Field(i)
		if f.Anonymous && tag == "" {
			describe(fv, prefix, pattern, out)
			continue
		}
		if tag == "" || tag == "-" || f.Tag.Get("options") == "byname" {
			continue
		}
		name := prefix + tag
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		// Nested option groups (documented struct types) are flattened.
		if ft.Kind() == reflect.Struct && f.Tag.Get("doc") == "" {
			inner := fv
			if inner.Kind() == reflect.Pointer {
				if inner.IsNil() {
					inner = reflect.New(ft).Elem()
				} else {
					inner = inner.Elem()
				}
			}
			describe(inner, name+".", pattern, out)
			continue
		}
		*out = append(*out, OptionDoc{
			Name:       name,
			Type:       typeLabel(ft),
			Default:    defaultLabel(fv),
			Doc:        f.Tag.Get("doc") + consentNote(f),
			Annotation: AnnotationPrefix + pattern + "." + name,
		})
	}
}

func typeLabel(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "int"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list of " + typeLabel(t.Elem())
	case reflect.Map:
		return "map"
	}
	return "object"
}

func defaultLabel(v reflect.Value) string {
	if v.IsZero() {
		return ""
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	s := string(b)
	if v.Kind() == reflect.String {
		return v.String()
	}
	return s
}
