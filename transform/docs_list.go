package transform

import "reflect"

// EntryDefaulter is implemented by options that are a list of named entries
// (the ambassador's upstreams): DefaultEntry returns one entry with its
// defaults, so `sidecarize patterns` can list the per-entry options.
type EntryDefaulter interface {
	DefaultEntry() any
}

// describeList documents a list of named entries: each option is addressed
// as <name>.<option> (SetOption takes the entry's name as a path element).
func describeList(opts any, v reflect.Value, pattern string, out *[]OptionDoc) {
	et := v.Type().Elem()
	if et.Kind() != reflect.Struct {
		return
	}
	entry := reflect.New(et).Elem()
	if d, ok := opts.(EntryDefaulter); ok {
		if e := reflect.ValueOf(d.DefaultEntry()); e.IsValid() && e.Type() == et {
			entry = e
		}
	}
	var docs []OptionDoc
	describe(entry, "<name>.", pattern, &docs)
	for _, d := range docs {
		if d.Name == "<name>.name" {
			continue
		}
		*out = append(*out, d)
	}
}
