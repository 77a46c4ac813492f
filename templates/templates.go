package templates

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// The HAProxy templates share haproxy-base.cfg.tmpl's blocks (global,
// defaults, the metrics frontend); every user string that lands in a
// haproxy.cfg goes through word or quote.
var all = template.Must(template.New("").Option("missingkey=error").Funcs(template.FuncMap{
	"join":  strings.Join,
	"word":  Word,
	"quote": Quote,
}).ParseFS(files, "*.tmpl"))

// Render executes the named template (e.g. "haproxy-monitor.cfg.tmpl").
func Render(name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := all.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", name, err)
	}
	return buf.String(), nil
}

// Quote makes s one HAProxy config word, literally: inside double quotes
// HAProxy interprets backslash escapes and "$VAR" / "${VAR}", so \, " and $
// are escaped and line breaks and tabs become \n, \r, \t.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '$':
			b.WriteString(`\$`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Word is s as one HAProxy config word: as it is when every character is
// plain (letters, digits and / . _ - ~ : @ + = ,), else Quote(s). Plain
// values (the defaults) keep configs as they read best. HAProxy reads an
// empty word ("") as the end of the arguments: the options' validators
// refuse empty strings where a word is required.
func Word(s string) string {
	if s == "" {
		return Quote(s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("/._-~:@+=,", c) >= 0:
		default:
			return Quote(s)
		}
	}
	return s
}
