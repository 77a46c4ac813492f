// Package logs is the logging adapter pattern (SPEC §5.2, seed 1 "v2", seed 2
// demo 1): the app keeps writing its log files; an emptyDir is mounted at each
// log directory in the app container and, read-only, in an adapter container
// that follows the files and writes one JSON object per line to stdout, where
// Kubernetes and every cluster log collector look.
//
// Two engines:
//
//   - fluent-bit (default): a generated YAML config in a ConfigMap — a tail
//     input with its offset database on its own emptyDir (restarts neither
//     re-read nor lose lines), rotation followed, a parser per format (json,
//     logfmt, nginx, apache/clf, syslog, a custom named-group regex),
//     multi-line records by a start-of-record pattern, static and downward-API
//     fields, and the stdout output as json_lines.
//   - tail: a plain relay like seed 2's "logger" container (busybox
//     `tail -n +1 -q -F`), for apps that already write one JSON object per
//     line. It waits for a file that does not exist yet, reads it from its
//     first line, drains a renamed file and switches to the new one. Its
//     limits, which fluent-bit does not have: busybox looks the file up by
//     name once a second, so a file that is created and rotated away within
//     that second is missed; and it keeps no offsets, so a restarted adapter
//     relays the current file again from its first line. Named files only
//     (no globs).
//
// The log directory: an emptyDir (sizeLimit set) is mounted at each
// directory of the files in the app container, and read-only at the same
// path in the adapter, so the paths in the config are the app's. A
// directory already on one of the app container's volumes (mounted there or
// at a parent directory) reuses that volume and mount instead. Mounting over
// a directory images ship files in (/var/log, /etc, /opt, /app …) hides
// those files: a warning says so.
//
// User IDs: the adapter runs as the runAsUser/runAsGroup options; without
// them, as the pod's own non-root runAsUser/runAsGroup (the app's user, when
// the pod sets it); else as UID/GID 65532, the non-root default of every
// injected container. It reads the files through a read-only mount, so they
// must be readable by that user: world-readable files (the common umask 022)
// always are; an app that writes 0600/0640 files as a user the pod does not
// declare needs runAsUser (and runAsGroup) set to its IDs.
// fluent-bit's database lives on an emptyDir, which is world-writable, so it
// works as any non-root user.
//
// Decisions the SPEC leaves open:
//
//   - fluent-bit's YAML config, not the classic format: the 5.x documentation
//     presents YAML first and calls classic mode "phasing out"; YAML also
//     carries parsers, multiline rules and repeated keys in one file, and
//     quotes a regex without escapes, so the pattern in the ConfigMap is byte
//     for byte the one the tests run. The default image is the release the
//     tests check the keys against (FluentBitVersion).
//   - Formats: json and logfmt use fluent-bit's native decoders; nginx is the
//     "combined" format (plus the official image's X-Forwarded-For field);
//     apache and clf are the Common Log Format, "combined" fields optional;
//     syslog is RFC 3164 as written to files, <PRI> optional. Each regex is
//     in the subset Onigmo and RE2 read alike; a custom regex is checked for
//     that subset (no look-around, atomic groups or backreferences).
//   - multiline: a record starts at a line matching the start pattern; the
//     continuation rule is its negative lookahead (/^(?!start)/), the one
//     Onigmo-only construct generated on purpose. The joined record is
//     parsed by a parser filter (a tail input with multiline.parser takes no
//     parser of its own), so a regex's last group should accept newlines,
//     e.g. (?<message>[\s\S]*).
//   - fields: a record_modifier filter; fieldRef:<path> values become env
//     vars from the downward API, expanded by fluent-bit as ${VAR}.
//   - No probes: the adapter needs nothing before the app starts, and a file
//     created before it is read from its beginning (read_from_head; the tail
//     engine's -n +1), so no line is lost however the two start.
package logs
