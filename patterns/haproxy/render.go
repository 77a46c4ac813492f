package haproxy

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sidecarize/sidecarize/templates"
	"github.com/sidecarize/sidecarize/transform"
)

// render is templates.Render(name, data) for a pattern's template data,
// which embeds Config. Most workloads of a stream get the same haproxy.cfg
// but for the header comment naming the workload (Config.Workload), and
// text/template executes by reflection: the config is rendered once with a
// hole as Workload and kept, keyed by the template and the complete data
// with the hole in Workload; the next workload with the same data gets the
// kept text with its name where the hole is.
//
// Only data of plain values is kept (strings, booleans, integers, structs of
// them, nil pointers): equal keys are then equal data. A kept text is
// trusted when rendering with a second hole gives the same text with the
// second hole in the same places, so the template wrote Workload as it is
// (not through word or quote) and no other field holds a hole; else the
// data is rendered every time. The cache is bounded (maxRenders). Under
// transform.Verify (every test binary, SIDECARIZE_VERIFY=1) every text from
// the cache is compared with the one rendered for it.
func render(name string, data any) (string, error) {
	key, workload, ok := renderKeyOf(name, data)
	if !ok || !renderCacheOn {
		return templates.Render(name, data)
	}
	r, hit := renders.Load(key)
	if !hit {
		if renderCount.Load() >= maxRenders {
			return templates.Render(name, data)
		}
		var loaded bool
		if r, loaded = renders.LoadOrStore(key, keep(name, key.data)); !loaded {
			renderCount.Add(1)
		}
	}
	k := r.(kept)
	if !k.ok {
		return templates.Render(name, data)
	}
	out := strings.ReplaceAll(k.text, holeA, workload)
	if transform.Verify() { // transform/verify.go
		direct, err := templates.Render(name, data)
		if err == nil && direct != out {
			err = fmt.Errorf("internal error: %s: the %s from the cache differs from the one rendered for it", workload, name)
		}
		return out, err
	}
	return out, nil
}

// The holes: a NUL, a quote, a line break and a "$" make word and quote
// change them, so they stand in a text only where Workload was written as
// it is.
const (
	holeA = "\x00sidecarize \"workload\"\n$A\x00"
	holeB = "\x00sidecarize \"workload\"\n$B\x00"
)

const maxRenders = 64

var (
	renders       sync.Map // renderKey -> kept
	renderCount   atomic.Int64
	renderCacheOn = true
	configIndex   sync.Map // reflect.Type -> []int (configAt)
	workloadIndex = append([]int(nil), mustField(reflect.TypeFor[Config](), "Workload").Index...)
)

type renderKey struct {
	name string
	data any // the data with holeA as Workload
}

// kept is a rendered config with holeA where the workload goes; ok=false:
// this data is rendered every time.
type kept struct {
	text string
	ok   bool
}

// keep renders data (holeA as Workload) and checks it against holeB.
func keep(name string, data any) kept {
	a, err := templates.Render(name, data)
	if err != nil {
		return kept{}
	}
	b, err := templates.Render(name, withWorkload(data, configAt(reflect.TypeOf(data)), holeB))
	if err != nil || strings.Count(a, holeA) != strings.Count(b, holeB) || strings.ReplaceAll(a, holeA, holeB) != b {
		return kept{}
	}
	return kept{text: a, ok: true}
}

// renderKeyOf is the cache key of data and its Workload; ok=false when
// data is no struct embedding Config or holds other than plain values.
func renderKeyOf(name string, data any) (renderKey, string, bool) {
	v := reflect.ValueOf(data)
	if v.Kind() != reflect.Struct {
		return renderKey{}, "", false
	}
	at := configAt(v.Type())
	if at == nil || !nilPointers(v) {
		return renderKey{}, "", false
	}
	workload := v.FieldByIndex(at).FieldByIndex(workloadIndex).String()
	return renderKey{name: name, data: withWorkload(data, at, holeA)}, workload, true
}

// withWorkload is a copy of data with Workload (of its Config at index at)
// set to s.
func withWorkload(data any, at []int, s string) any {
	c := reflect.New(reflect.TypeOf(data)).Elem()
	c.Set(reflect.ValueOf(data))
	c.FieldByIndex(at).FieldByIndex(workloadIndex).SetString(s)
	return c.Interface()
}

// configAt is the index of the Config a struct type embeds, nil when it
// embeds none or is no plainType.
func configAt(t reflect.Type) []int {
	if at, ok := configIndex.Load(t); ok {
		return at.([]int)
	}
	var at []int
	if cf, ok := t.FieldByName("Config"); ok && cf.Anonymous && cf.Type == reflect.TypeFor[Config]() && plainType(t) {
		at = cf.Index
	}
	configIndex.Store(t, at)
	return at
}

// plainType: a struct type of strings, booleans, integers, pointers and
// structs of them, whose == compares every value a template reads (a
// pointer is compared by address: nilPointers keeps only nil ones).
func plainType(t reflect.Type) bool {
	p := true
	for i := 0; i < t.NumField() && p; i++ {
		switch ft := t.Field(i).Type; ft.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		case reflect.Struct:
			p = plainType(ft)
		case reflect.Pointer:
			p = ft.Elem().Kind() == reflect.Struct
		default:
			p = false
		}
	}
	return p
}

// nilPointers: every pointer in v (a plainType struct) is nil.
func nilPointers(v reflect.Value) bool {
	for i := 0; i < v.NumField(); i++ {
		switch f := v.Field(i); f.Kind() {
		case reflect.Pointer:
			if !f.IsNil() {
				return false
			}
		case reflect.Struct:
			if !nilPointers(f) {
				return false
			}
		}
	}
	return true
}

func mustField(t reflect.Type, name string) reflect.StructField {
	f, ok := t.FieldByName(name)
	if !ok {
		panic("haproxy: no field " + name)
	}
	return f
}
