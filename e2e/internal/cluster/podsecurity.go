package cluster

import (
	"regexp"
	"strings"
)

// Violation is one Pod Security violation from an admission rejection, with the
// containers and volumes its detail names.
type Violation struct {
	Text       string // e.g. `runAsNonRoot != true (pod or container "x" must set ...)`
	Containers []string
	Volumes    []string
}

const psPrefix = `violates PodSecurity "`

var (
	reContainers = regexp.MustCompile(`\bcontainers? ((?:"[^"]*"(?:, )?)+)`)
	reVolumes    = regexp.MustCompile(`\bvolumes? ((?:"[^"]*"(?:, )?)+)`)
	reQuoted     = regexp.MustCompile(`"([^"]*)"`)
)

// ParsePodSecurity extracts the violations from a PodSecurity rejection
// message. ok is false when msg is not a PodSecurity rejection.
func ParsePodSecurity(msg string) (vs []Violation, ok bool) {
	i := strings.Index(msg, psPrefix)
	if i < 0 {
		return nil, false
	}
	rest := msg[i+len(psPrefix):]
	j := strings.Index(rest, `": `)
	if j < 0 {
		return nil, false
	}
	rest = strings.TrimSpace(rest[j+3:])
	for rest != "" {
		// one violation: label [ (detail) ], then ", " or the end.
		depth, inQuote, end := 0, false, len(rest)
	scan:
		for k := 0; k < len(rest); k++ {
			switch ch := rest[k]; {
			case ch == '"':
				inQuote = !inQuote
			case inQuote:
			case ch == '(':
				depth++
			case ch == ')':
				depth--
			case ch == ',' && depth == 0:
				end = k
				break scan
			}
		}
		text := strings.TrimSpace(rest[:end])
		if end < len(rest) {
			rest = strings.TrimSpace(rest[end+1:])
		} else {
			rest = ""
		}
		if text == "" {
			continue
		}
		v := Violation{Text: text}
		for _, m := range reContainers.FindAllStringSubmatch(text, -1) {
			for _, q := range reQuoted.FindAllStringSubmatch(m[1], -1) {
				v.Containers = append(v.Containers, q[1])
			}
		}
		for _, m := range reVolumes.FindAllStringSubmatch(text, -1) {
			for _, q := range reQuoted.FindAllStringSubmatch(m[1], -1) {
				v.Volumes = append(v.Volumes, q[1])
			}
		}
		vs = append(vs, v)
	}
	return vs, true
}
