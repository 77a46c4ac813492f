package dashboard

import (
	"math"
	"reflect"
	"slices"
	"testing"
)

// TestSectionsKeyFields: sectionsKey writes every field of a section; a
// field added to Section, Panel or Query must be added there (and here).
func TestSectionsKeyFields(t *testing.T) {
	for typ, want := range map[reflect.Type][]string{
		reflect.TypeOf(Section{}): {"Title", "Panels"},
		reflect.TypeOf(Panel{}):   {"Title", "Description", "Unit", "Stat", "Health", "Threshold", "Queries"},
		reflect.TypeOf(Query{}):   {"Expr", "Legend"},
	} {
		var got []string
		for i := 0; i < typ.NumField(); i++ {
			got = append(got, typ.Field(i).Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s has fields %v; sectionsKey writes %v", typ, got, want)
		}
	}
}

// TestSectionsKey: sections that differ in any field have different keys;
// markers and thresholds JSON cannot hold are built directly.
func TestSectionsKey(t *testing.T) {
	half, zero, negZero := 0.5, 0.0, math.Copysign(0, -1)
	base := func() []Section {
		return []Section{{Title: "HTTP", Panels: []Panel{{Title: "rate", Description: "d", Unit: "reqps", Queries: []Query{{Expr: "up", Legend: "l"}}}}}}
	}
	variants := map[string]func(s []Section) []Section{
		"base":          func(s []Section) []Section { return s },
		"title":         func(s []Section) []Section { s[0].Title = "HTTPS"; return s },
		"panel title":   func(s []Section) []Section { s[0].Panels[0].Title = "rat"; return s },
		"description":   func(s []Section) []Section { s[0].Panels[0].Description = ""; return s },
		"unit":          func(s []Section) []Section { s[0].Panels[0].Unit = "s"; return s },
		"stat":          func(s []Section) []Section { s[0].Panels[0].Stat = true; return s },
		"health":        func(s []Section) []Section { s[0].Panels[0].Health = true; return s },
		"threshold":     func(s []Section) []Section { s[0].Panels[0].Threshold = &half; return s },
		"zero":          func(s []Section) []Section { s[0].Panels[0].Threshold = &zero; return s },
		"negative zero": func(s []Section) []Section { s[0].Panels[0].Threshold = &negZero; return s },
		"expr":          func(s []Section) []Section { s[0].Panels[0].Queries[0].Expr = "down"; return s },
		"legend":        func(s []Section) []Section { s[0].Panels[0].Queries[0].Legend = ""; return s },
		"no query":      func(s []Section) []Section { s[0].Panels[0].Queries = nil; return s },
		"two queries": func(s []Section) []Section {
			s[0].Panels[0].Queries = append(s[0].Panels[0].Queries, Query{})
			return s
		},
		"no panel":    func(s []Section) []Section { s[0].Panels = nil; return s },
		"no section":  func(s []Section) []Section { return nil },
		"two":         func(s []Section) []Section { return append(s, Section{}) },
		"moved bytes": func(s []Section) []Section { s[0].Title, s[0].Panels[0].Title = "HTTPr", "ate"; return s },
	}
	seen := map[string]string{}
	for name, v := range variants {
		key, direct := sectionsKey("Deployment", v(base()))
		if direct {
			t.Errorf("%s: built directly", name)
		}
		if other, ok := seen[key]; ok {
			t.Errorf("%s and %s have one key", name, other)
		}
		seen[key] = name
		if again, _ := sectionsKey("Deployment", v(base())); again != key {
			t.Errorf("%s: two keys for the same sections", name)
		}
	}
	if k, _ := sectionsKey("StatefulSet", base()); seen[k] != "" {
		t.Error("the kind is not in the key")
	}
	nan := math.NaN()
	for name, s := range map[string][]Section{
		"marker":         {{Title: "a" + marker}},
		"escaped marker": {{Panels: []Panel{{Queries: []Query{{Legend: escapedMarker}}}}}},
		"NaN":            {{Panels: []Panel{{Threshold: &nan}}}},
	} {
		if _, direct := sectionsKey("Deployment", s); !direct {
			t.Errorf("%s: not built directly", name)
		}
	}
}
