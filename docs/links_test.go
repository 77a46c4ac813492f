// Package docs_test checks that references resolve inside the repository:
// every "docs/<page>.md[#anchor]" cited in the code and every relative link
// in a Markdown page must name a file of the repository, and an anchor a
// heading of that page; and no file cites a document the repository does
// not hold (a specification's sections, an architecture guide).
package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// docRef is a reference to a page of docs/ in code or text.
	docRef = regexp.MustCompile(`\bdocs/[A-Za-z0-9_./-]+\.md(#[a-z0-9-]+)?`)
	// mdLink is a Markdown link target.
	mdLink  = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6} +(.+)$`)
)

// slug is GitHub's anchor for a heading: lower case, punctuation other than
// '-' and '_' dropped, spaces as '-'.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(b), -1) {
		out[slug(strings.ReplaceAll(m[1], "`", ""))] = true
	}
	return out
}

func check(t *testing.T, from, target string) {
	t.Helper()
	file, anchor, _ := strings.Cut(target, "#")
	if _, err := os.Stat(file); err != nil {
		t.Errorf("%s: %s: no such file", from, target)
		return
	}
	if anchor != "" && strings.HasSuffix(file, ".md") && !anchors(t, file)[anchor] {
		t.Errorf("%s: %s: no heading with that anchor", from, target)
	}
}

func TestReferencesResolve(t *testing.T) {
	root := ".."
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(p)
		if ext != ".go" && ext != ".md" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, ref := range docRef.FindAllString(string(b), -1) {
			check(t, p, filepath.Join(root, ref))
			n++
		}
		if ext == ".md" {
			for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				if strings.HasPrefix(target, "#") {
					target = filepath.Base(p) + target
				}
				check(t, p, filepath.Join(filepath.Dir(p), target))
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("only %d references found: is the walk broken?", n)
	}
}

// outside are citations of documents that are not in the repository.
var outside = regexp.MustCompile(`§|\bSPEC\b|\bARCHITECTURE\b`)

func TestNoReferencesOutside(t *testing.T) {
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// .git, and the build outputs .gitignore lists (make build's
			// bin/sidecarize holds any string; make image and make
			// helm-plugin write dist/ and helm/sidecarize/bin/).
			if d.Name() == ".git" || p == filepath.Join("..", "bin") || p == filepath.Join("..", ".cache") ||
				p == filepath.Join("..", "dist") || p == filepath.Join("..", "helm", "sidecarize", "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Base(p) == "links_test.go" || !d.Type().IsRegular() {
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".md", ".yaml", ".yml", ".txt", ".txtar", ".sh", ".tmpl", "":
		default:
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if outside.MatchString(line) {
				t.Errorf("%s:%d: cites a document outside the repository (point at docs/ instead): %s", p, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
