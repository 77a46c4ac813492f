// Package fuzz holds the structure-aware fuzzer (FuzzStructure): it mutates
// the node trees of the golden inputs and drives every front end (inject
// by annotations, -p, a config and --set; uninject; KRM mode through the
// command line) with every real pattern. It lives apart from transform
// because it needs the patterns and the command line, which transform's
// own tests do not import. `make fuzz` runs it briefly, `make fuzz-long`
// for hours; a finding becomes a golden error case under testdata/.
package fuzz
