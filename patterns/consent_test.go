package patterns_test

import (
	"os"
	"strings"
	"testing"

	"github.com/sidecarize/sidecarize/patterns"
	"github.com/sidecarize/sidecarize/transform"
)

// The README's consent table names every option an annotation needs the
// config's consent to set, under its category.
func TestREADMEConsentTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // category → its row
	for _, line := range strings.Split(string(b), "\n") {
		for _, c := range transform.ConsentCategories {
			if strings.HasPrefix(line, "| `"+c+"` |") {
				rows[c] = line
			}
		}
	}
	n := 0
	for _, p := range patterns.All() {
		for _, o := range transform.ConsentOptions(p) {
			n++
			if !strings.Contains(rows[o.Category], "`"+o.Path+"`") {
				t.Errorf("README's Trust model: the %s row does not list `%s`", o.Category, o.Path)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d options need consent: the walk is broken", n)
	}
	for _, c := range transform.ConsentCategories {
		if rows[c] == "" {
			t.Errorf("README's Trust model has no row for %s", c)
		}
	}
}
