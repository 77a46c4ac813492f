package transform

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// typedNode builds the nodes toRNode's slow path (json.Marshal, then
// jsonNode) would build, straight from the value: no JSON text, no escaping
// of a dashboard's every quote and line to read it back. It follows
// encoding/json's rules for the shapes the Kubernetes types and the
// patterns' structs use (json tags, omitempty, embedded structs, pointers,
// string-keyed maps, json.Marshaler values such as quantities and
// int-or-string) and answers ok=false for anything else — a float, []byte,
// an interface, a ",string" or omitzero tag, invalid UTF-8 (encoding/json
// replaces it) — so that the caller takes the slow path. Test binaries run
// both paths on every value and fail on a difference (verifyTyped).
func typedNode(v reflect.Value) (*yaml.Node, bool) {
	if !v.IsValid() {
		return nil, false // toRNode(nil)
	}
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, true
	}
	if n, ok, done := marshalerNode(v); done {
		return n, ok
	}
	switch v.Kind() {
	case reflect.Pointer:
		return typedNode(v.Elem())
	case reflect.Struct:
		fields, ok := structFields(v.Type())
		if !ok {
			return nil, false
		}
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: make([]*yaml.Node, 0, 2*len(fields))}
		for _, f := range fields {
			fv := v.FieldByIndex(f.index)
			if f.omitEmpty && emptyValue(fv) || f.omitZero && zeroValue(fv) {
				continue
			}
			if !addPair(m, f.name, fv) {
				return nil, false
			}
		}
		return m, true
	case reflect.Map:
		if v.IsNil() {
			return nil, true
		}
		kt := v.Type().Key()
		if kt.Kind() != reflect.String || implementsText(kt) {
			return nil, false
		}
		keys := make([]string, 0, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key().String()
			if !utf8.ValidString(k) {
				return nil, false
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: make([]*yaml.Node, 0, 2*len(keys))}
		for _, k := range keys {
			if !addPair(m, k, v.MapIndex(reflect.ValueOf(k).Convert(kt))) {
				return nil, false
			}
		}
		return m, true
	case reflect.Slice:
		if v.IsNil() {
			return nil, true
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil, false // []byte is base64
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq, Content: make([]*yaml.Node, 0, v.Len())}
		for i := 0; i < v.Len(); i++ {
			n, ok := typedNode(v.Index(i))
			if !ok {
				return nil, false
			}
			if n == nil {
				n = &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagNull, Value: "null"}
			}
			seq.Content = append(seq.Content, n)
		}
		return seq, true
	case reflect.String:
		s := v.String()
		if !utf8.ValidString(s) {
			return nil, false
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: s}, true
	case reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: strconv.FormatBool(v.Bool())}, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagInt, Value: strconv.FormatInt(v.Int(), 10)}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagInt, Value: strconv.FormatUint(v.Uint(), 10)}, true
	}
	return nil, false
}

// addPair appends key: v to the mapping m, nothing when v encodes as null
// (the slow path drops null-valued keys); false when v cannot be built.
func addPair(m *yaml.Node, key string, v reflect.Value) bool {
	n, ok := typedNode(v)
	if ok && n != nil {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: key}, n)
	}
	return ok
}

var (
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
	zeroerType    = reflect.TypeFor[interface{ IsZero() bool }]()
)

// zeroValue is encoding/json's omitzero test: the type's IsZero method
// (a metav1.Time's, on a pointer receiver), else reflect's.
func zeroValue(v reflect.Value) bool {
	switch zeroerOf(v.Type()) {
	case pointerZeroer:
		return v.IsNil() || v.Interface().(interface{ IsZero() bool }).IsZero()
	case valueZeroer:
		return v.Interface().(interface{ IsZero() bool }).IsZero()
	case addrZeroer:
		t := v.Type()
		if !v.CanAddr() {
			c := reflect.New(t).Elem()
			c.Set(v)
			v = c
		}
		return v.Addr().Interface().(interface{ IsZero() bool }).IsZero()
	}
	return v.IsZero()
}

// How zeroValue tests a type: its IsZero method (on a pointer type, on
// the value, on its address), or reflect's.
const (
	reflectZero = iota
	pointerZeroer
	valueZeroer
	addrZeroer
)

var zeroerCache sync.Map // reflect.Type -> int

func zeroerOf(t reflect.Type) int {
	return byType(&zeroerCache, t, func(t reflect.Type) int {
		switch {
		case t.Kind() == reflect.Pointer && t.Implements(zeroerType):
			return pointerZeroer
		case t.Implements(zeroerType):
			return valueZeroer
		case reflect.PointerTo(t).Implements(zeroerType):
			return addrZeroer
		}
		return reflectZero
	})
}

// byType is what of(t) says of a type, worked out once (cache).
func byType(cache *sync.Map, t reflect.Type, of func(reflect.Type) int) int {
	if v, ok := cache.Load(t); ok {
		return v.(int)
	}
	v := of(t)
	cache.Store(t, v)
	return v
}

// marshalerNode: a value with its own MarshalJSON (a quantity, an
// int-or-string, a time) is encoded by it and read back with jsonNode, as
// json.Marshal does. done=false: the type has none. A pointer-receiver
// MarshalJSON on a value that is not addressable is not called by
// encoding/json either: such values are left to the slow path, as are
// types with a MarshalText.
func marshalerNode(v reflect.Value) (n *yaml.Node, ok, done bool) {
	switch encodingOf(v.Type()) {
	case plainEncoding:
		return nil, false, false
	case otherEncoding:
		return nil, false, true
	}
	if v.Kind() == reflect.Pointer && v.IsNil() || !v.CanInterface() {
		return nil, false, true
	}
	b, err := v.Interface().(json.Marshaler).MarshalJSON()
	if err != nil {
		return nil, false, true
	}
	n, rest, err := jsonNode(b)
	if err != nil || len(strings.TrimSpace(string(rest))) > 0 {
		return nil, false, true
	}
	return n, true, true
}

// How encoding/json encodes a type: by reflection, by its MarshalJSON, or
// another way (MarshalText, a pointer-receiver MarshalJSON).
const (
	plainEncoding = iota
	marshalerEncoding
	otherEncoding
)

var encodingCache sync.Map // reflect.Type -> int

func encodingOf(t reflect.Type) int {
	return byType(&encodingCache, t, func(t reflect.Type) int {
		switch {
		case t.Implements(marshalerType):
			return marshalerEncoding
		case reflect.PointerTo(t).Implements(marshalerType) || implementsText(t):
			return otherEncoding
		}
		return plainEncoding
	})
}

func implementsText(t reflect.Type) bool {
	return t.Implements(textType) || reflect.PointerTo(t).Implements(textType)
}

// typedField is one field encoding/json writes for a struct type.
type typedField struct {
	name      string
	index     []int
	omitEmpty bool
	omitZero  bool
}

type typedFields struct {
	fields []typedField
	ok     bool
}

var structCache sync.Map // reflect.Type -> typedFields

// structFields lists a struct type's JSON fields in encoding/json's order:
// declaration order, untagged embedded structs spliced in place. ok=false
// for a shape whose rules this does not follow (two fields of one name, an
// embedded pointer or non-struct, a ",string" or omitzero option).
func structFields(t reflect.Type) ([]typedField, bool) {
	if c, ok := structCache.Load(t); ok {
		tf := c.(typedFields)
		return tf.fields, tf.ok
	}
	var fields []typedField
	ok := collectFields(t, nil, &fields)
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.name] {
			ok = false
		}
		seen[f.name] = true
	}
	structCache.Store(t, typedFields{fields: fields, ok: ok})
	return fields, ok
}

func collectFields(t reflect.Type, index []int, out *[]typedField) bool {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		idx := append(append([]int{}, index...), i)
		if f.Anonymous && !f.IsExported() {
			return false
		}
		if f.Anonymous && name == "" {
			if f.Type.Kind() != reflect.Struct {
				return false
			}
			if f.Type.Implements(marshalerType) || reflect.PointerTo(f.Type).Implements(marshalerType) || implementsText(f.Type) {
				return false
			}
			if !collectFields(f.Type, idx, out) {
				return false
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		tf := typedField{name: name, index: idx}
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "omitempty":
				tf.omitEmpty = true
			case "omitzero":
				if f.Type.Kind() == reflect.Interface {
					return false
				}
				tf.omitZero = true
			case "", "inline":
			default:
				return false // ",string", …
			}
		}
		if !validTagName(name) {
			return false
		}
		*out = append(*out, tf)
	}
	return true
}

// validTagName: names encoding/json takes from a tag as they are (it
// ignores a tag name with other characters).
func validTagName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.$/", c)) {
			return false
		}
	}
	return s != ""
}

// emptyValue is encoding/json's omitempty test.
func emptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
