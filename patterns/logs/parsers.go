package logs

import (
	"fmt"
	"regexp"
	"strings"
)

// Formats with a generated regex. Each pattern is written in the subset that
// fluent-bit's Onigmo (Ruby syntax) and Go's RE2 read the same way: named
// groups as (?<name>…), no look-around, no backreferences, no possessive or
// atomic groups, and anchored with ^…$ on single-line records (Ruby's ^ and $
// are line anchors, Go's are text anchors: the same thing on one line). The
// tests run these exact strings through Go's regexp against real log lines.
var formatRegex = map[string]string{
	// nginx's default "combined" format, plus the optional
	// "$http_x_forwarded_for" that the official image's "main" format adds:
	// $remote_addr - $remote_user [$time_local] "$request" $status
	// $body_bytes_sent "$http_referer" "$http_user_agent"
	"nginx": `^(?<remote>[^ ]*) (?<host>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^"]*?)(?: +(?<protocol>HTTP/[0-9.]+))?)?" (?<code>[0-9]{3}) (?<size>[0-9]+|-)(?: "(?<referer>[^"]*)" "(?<agent>[^"]*)")?(?: "(?<forwarded>[^"]*)")?$`,
	// Apache's Common Log Format (%h %l %u %t "%r" %>s %b), optionally
	// followed by the "combined" referer and user agent.
	"apache": `^(?<host>[^ ]*) (?<ident>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^"]*?)(?: +(?<protocol>HTTP/[0-9.]+))?)?" (?<code>[0-9]{3}) (?<size>[0-9]+|-)(?: "(?<referer>[^"]*)" "(?<agent>[^"]*)")?$`,
	// Syslog lines as written to files (RFC 3164 / the traditional
	// rsyslog file format), with or without the <PRI> prefix:
	// "<34>Oct 11 22:14:15 host ident[pid]: message".
	"syslog": `^(?:<(?<pri>[0-9]{1,3})>)?(?<time>[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}) (?<host>[^ ]+) (?<ident>[^ :\[]+)(?:\[(?<pid>[0-9]+)\])?: ?(?<message>.*)$`,
}

// Time handling per format: the field holding the timestamp and its
// strptime(3) format, so records carry the time the line was written.
var formatTime = map[string][2]string{
	"nginx":  {"time", "%d/%b/%Y:%H:%M:%S %z"},
	"apache": {"time", "%d/%b/%Y:%H:%M:%S %z"},
	"syslog": {"time", "%b %d %H:%M:%S"},
}

// canonicalFormat maps aliases: clf is Apache's common log format.
func canonicalFormat(f string) string {
	if f == "clf" {
		return "apache"
	}
	return f
}

// FormatRegex returns the regex fluent-bit uses for a format ("" for json
// and logfmt, which fluent-bit parses natively), or the custom one.
func FormatRegex(format, custom string) string {
	if format == "regex" {
		return custom
	}
	return formatRegex[canonicalFormat(format)]
}

var (
	// Onigmo-only constructs that RE2 rejects or reads differently.
	lookaround = regexp.MustCompile(`\(\?<?[=!]`)
	atomic     = regexp.MustCompile(`\(\?>`)
	backref    = regexp.MustCompile(`\\[1-9]|\\k<`)
)

// checkPortableRegex validates a user pattern: it must compile in Go (so the
// tests and `sidecarize` itself can read it), avoid constructs fluent-bit's
// Onigmo would read differently, and, when named is set, capture at least one
// named group (fluent-bit builds the record from the named groups).
func checkPortableRegex(option, re string, named bool) error {
	if lookaround.MatchString(re) || atomic.MatchString(re) || backref.MatchString(re) {
		return fmt.Errorf("%s: %q: look-around, atomic groups and backreferences are not portable between fluent-bit (Onigmo) and Go (RE2)", option, re)
	}
	if strings.Contains(re, "(?P<") {
		return fmt.Errorf("%s: %q: write named groups as (?<name>...), the syntax fluent-bit's Onigmo reads", option, re)
	}
	if strings.ContainsAny(re, "\n\r") {
		return fmt.Errorf("%s: the pattern must be one line", option)
	}
	if strings.Contains(re, "${") {
		return fmt.Errorf("%s: %q: fluent-bit expands ${VAR} in its config, a pattern included: write \\$\\{ to match the characters", option, re)
	}
	c, err := regexp.Compile(re)
	if err != nil {
		return fmt.Errorf("%s: %q: %v", option, re, err)
	}
	if named {
		n := 0
		for _, s := range c.SubexpNames() {
			if s != "" {
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("%s: %q: needs at least one named group like (?<message>.*)", option, re)
		}
	}
	return nil
}
