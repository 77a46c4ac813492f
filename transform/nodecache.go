package transform

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// toRNodeShared is toRNode for a value many workloads share (a helper
// container: the same image, command, ports and probes in every pod).
// toRNode's nodes are kept, keyed by the value's type and its complete
// encoding (valueKey: every field, unexported ones included, so equal keys
// are equal values), and copied for the next equal value in two
// allocations instead of one a node. The cache is bounded (maxShared
// values, keys up to maxSharedKey bytes). Under verify (transform/verify.go)
// every copy is compared with the nodes toRNode builds.
//
// With d, the copy's arrays come from the pool and go back when d is
// finalized (a top-level document's tree is let go then).
func toRNodeShared(v any) (*yaml.RNode, error) { return toRNodeSharedIn(v, nil) }

func toRNodeSharedIn(v any, d *Doc) (*yaml.RNode, error) {
	t := reflect.TypeOf(v)
	bp := keyBuffers.Get().(*[]byte)
	defer keyBuffers.Put(bp)
	key, ok := valueKey((*bp)[:0], reflect.ValueOf(v), 0)
	if cap(key) <= 2*maxSharedKey {
		*bp = key[:0]
	}
	if ok {
		shared.RLock()
		kept := shared.nodes[t][string(key)]
		shared.RUnlock()
		if kept != nil {
			n := kept.copyFor(d)
			if verify {
				built, err := toRNode(v)
				if err == nil && !sameNode(n, built.YNode()) {
					err = fmt.Errorf("internal error: %T: the nodes from the cache differ from the ones built for it", v)
				}
				if err != nil {
					return nil, err
				}
			}
			return yaml.NewRNode(n), nil
		}
	}
	r, err := toRNode(v)
	if err != nil || !ok || r == nil {
		return r, err
	}
	shared.Lock()
	defer shared.Unlock()
	if shared.count < maxShared && shared.nodes[t][string(key)] == nil {
		if shared.nodes[t] == nil {
			shared.nodes[t] = map[string]*keptNode{}
		}
		shared.nodes[t][string(key)] = keepNode(r.YNode())
		shared.count++
	}
	return r, nil
}

const (
	maxShared    = 64
	maxSharedKey = 16 << 10
)

var (
	shared = struct {
		sync.RWMutex
		nodes map[reflect.Type]map[string]*keptNode
		count int
	}{nodes: map[reflect.Type]map[string]*keptNode{}}
	keyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
)

// keptNode is a private copy of a tree and its size.
type keptNode struct {
	root          *yaml.Node
	nodes, slices int // nodes; entries of all Content slices
}

func keepNode(n *yaml.Node) *keptNode {
	k := &keptNode{root: n}
	k.nodes, k.slices = countTree(n)
	k.root = k.copy()
	return k
}

// copy is a deep copy of the kept tree (copySized).
func (k *keptNode) copy() *yaml.Node { return copySized(k.root, k.nodes, k.slices) }

// copyFor is copy, into pooled arrays d gives back when finalized (nil:
// new arrays).
func (k *keptNode) copyFor(d *Doc) *yaml.Node {
	if d == nil {
		return k.copy()
	}
	return copyPooled(k.root, k.nodes, k.slices, d)
}

// valueKey appends an encoding of v to b from which v can be told apart
// from any other value of its type: numbers as varints, strings and
// slices with their length, nil pointers, slices and maps marked, maps in
// key order. ok=false for what it does not encode (interfaces, functions,
// channels, maps with other than string keys, nesting deeper than 32) and
// past maxSharedKey bytes.
func valueKey(b []byte, v reflect.Value, depth int) ([]byte, bool) {
	if depth > 32 || len(b) > maxSharedKey {
		return b, false
	}
	ok := true
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1), true
		}
		return append(b, 0), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(b, v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return binary.AppendUvarint(b, v.Uint()), true
	case reflect.Float32, reflect.Float64:
		return binary.AppendUvarint(b, math.Float64bits(v.Float())), true
	case reflect.String:
		s := v.String()
		if len(b)+len(s) > maxSharedKey {
			return b, false // not copied only to be refused
		}
		return append(binary.AppendUvarint(b, uint64(len(s))), s...), true
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, 0), true
		}
		return valueKey(append(b, 1), v.Elem(), depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField() && ok; i++ {
			b, ok = valueKey(b, v.Field(i), depth+1)
		}
		return b, ok
	case reflect.Slice:
		if v.IsNil() {
			return append(b, 0), true
		}
		b = append(b, 1)
		fallthrough
	case reflect.Array:
		b = binary.AppendUvarint(b, uint64(v.Len()))
		for i := 0; i < v.Len() && ok; i++ {
			b, ok = valueKey(b, v.Index(i), depth+1)
		}
		return b, ok
	case reflect.Map:
		if v.IsNil() {
			return append(b, 0), true
		}
		if v.Type().Key().Kind() != reflect.String {
			return b, false
		}
		keys := make([]reflect.Value, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			keys = append(keys, it.Key())
		}
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		b = binary.AppendUvarint(append(b, 1), uint64(len(keys)))
		for _, k := range keys {
			if b, ok = valueKey(b, k, depth+1); !ok {
				return b, false
			}
			if b, ok = valueKey(b, v.MapIndex(k), depth+1); !ok {
				return b, false
			}
		}
		return b, true
	}
	return b, false
}
