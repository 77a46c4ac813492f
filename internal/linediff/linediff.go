// Package linediff checks that an output differs from its input only on lines
// that carry an edit: every input line that does not come out unchanged must
// be replaced, in the same place, by a line with the same indentation and
// key whose value is different (a rewritten targetPort, an env value, an
// inline `annotations: {}` that opens). A removed comment or blank line, a
// re-indented block, a joined multi-line scalar, `limits :` turned into
// `limits:`, `[ "a" ]` into `["a"]` or a CRLF line into LF are reported.
package linediff

import (
	"fmt"
	"reflect"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Check returns one message per input line that changed without carrying an
// edit (empty when the output is faithful).
func Check(in, out []byte) []string { return CheckExcept(in, out, in) }

// CheckExcept is Check for an input that holds an earlier injection: base is
// that input uninjected, and the input lines it does not keep (the earlier
// injection's own) may go.
func CheckExcept(in, out, base []byte) []string {
	a, b := lines(in), lines(out)
	own := map[int]bool{}
	for _, h := range hunks(a, lines(base)) {
		for _, i := range h.del {
			own[i] = true
		}
	}
	var bad []string
	for _, h := range hunks(a, b) {
		used := make([]bool, len(h.ins))
		for _, di := range h.del {
			if own[di] {
				continue
			}
			d := a[di]
			if j := lineEnded(d, h.ins, b, used); j >= 0 {
				used[j] = true
				continue
			}
			k := -1
			for j, ij := range h.ins {
				if !used[j] && prefix(b[ij]) == prefix(d) {
					k = j
					break
				}
			}
			if k < 0 {
				bad = append(bad, fmt.Sprintf("input line %d dropped or rewritten: %q", di+1, d))
				continue
			}
			used[k] = true
			if sameValue(d, b[h.ins[k]]) && !commaAdded(d, b[h.ins[k]]) {
				bad = append(bad, fmt.Sprintf("input line %d reformatted: %q -> %q", di+1, d, b[h.ins[k]]))
			}
		}
	}
	return bad
}

// noEOL marks a last line without its newline.
const noEOL = "\x00(no final newline)"

// lineEnded finds, among the inserted lines, the input's last line d (one
// without a final newline) written with its newline, which it needs once
// documents follow it (the objects generated after a workload that ends
// the file): the index in ins, or -1. Its line ending is the one of the
// line after it (the "---" before those documents): CRLF in a CRLF file.
func lineEnded(d string, ins []int, b []string, used []bool) int {
	if !strings.HasSuffix(d, noEOL) {
		return -1
	}
	for j, ij := range ins {
		if used[j] || ij >= len(b)-1 {
			continue
		}
		want := strings.TrimSuffix(d, noEOL)
		if strings.HasSuffix(b[ij+1], "\r") {
			want += "\r"
		}
		if b[ij] == want {
			return j
		}
	}
	return -1
}

// lines splits at "\n", keeping a "\r" on its line: a CRLF line written back
// as LF is a changed line.
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	s := strings.Split(string(b), "\n")
	if s[len(s)-1] == "" {
		s = s[:len(s)-1]
	} else {
		// No final newline: the last line differs from one that has it.
		s[len(s)-1] += noEOL
	}
	return s
}

// commaAdded reports a JSON line that gained the comma an entry inserted
// after it needs: it carries that edit.
func commaAdded(in, out string) bool {
	cr := strings.HasSuffix(in, "\r")
	in = strings.TrimSuffix(in, "\r")
	return out == in+",\r" && cr || out == in+"," && !cr
}

// prefix is a line's indentation, sequence dashes and mapping key (through
// its colon): what an edit of the value keeps.
func prefix(l string) string {
	i := 0
	for i < len(l) && l[i] == ' ' {
		i++
	}
	for strings.HasPrefix(l[i:], "- ") {
		i += 2
		for i < len(l) && l[i] == ' ' {
			i++
		}
	}
	if k := keyEnd(l[i:]); k > 0 {
		return l[:i+k]
	}
	return l[:i]
}

// keyEnd is the index after a plain or quoted key's colon, or 0.
func keyEnd(s string) int {
	if s == "" || s[0] == '#' || s[0] == '{' || s[0] == '[' {
		return 0
	}
	if s[0] == '"' || s[0] == '\'' {
		q := s[0]
		for i := 1; i < len(s); i++ {
			if s[i] == q {
				if strings.HasPrefix(s[i+1:], ":") {
					return i + 2
				}
				return 0
			}
		}
		return 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\r') {
			return i + 1
		}
		if s[i] == ' ' && i+1 < len(s) && s[i+1] == '#' {
			return 0
		}
	}
	return 0
}

// sameValue reports two lines with one prefix whose values read the same:
// only the formatting changed.
func sameValue(a, b string) bool {
	a = strings.TrimSuffix(strings.TrimSuffix(a, noEOL), "\r")
	b = strings.TrimSuffix(strings.TrimSuffix(b, noEOL), "\r")
	if a == b {
		return true // only the line ending changed
	}
	va, vb := a[len(prefix(a)):], b[len(prefix(b)):]
	if strings.TrimSpace(va) == "" || strings.TrimSpace(vb) == "" {
		return false // a key that opens a block: its value is on the next lines
	}
	if strings.HasPrefix(strings.TrimSpace(va), "#") {
		return va == vb // a comment, or a line of a block scalar
	}
	var x, y any
	if yaml.Unmarshal([]byte(va), &x) == nil && yaml.Unmarshal([]byte(vb), &y) == nil {
		return reflect.DeepEqual(x, y)
	}
	return strings.Join(strings.Fields(va), " ") == strings.Join(strings.Fields(vb), " ")
}

type hunk struct{ del, ins []int }

// hunks is a Myers line diff of a and b, as runs of deleted and inserted
// line indices.
func hunks(a, b []string) []hunk {
	// Common prefix and suffix first: the diff proper runs on the middle.
	lo := 0
	for lo < len(a) && lo < len(b) && a[lo] == b[lo] {
		lo++
	}
	ea, eb := len(a), len(b)
	for ea > lo && eb > lo && a[ea-1] == b[eb-1] {
		ea--
		eb--
	}
	ops := myers(a[lo:ea], b[lo:eb])
	var out []hunk
	var cur hunk
	i, j := lo, lo
	flush := func() {
		if len(cur.del)+len(cur.ins) > 0 {
			out = append(out, cur)
		}
		cur = hunk{}
	}
	for _, op := range ops {
		switch op {
		case '=':
			flush()
			i++
			j++
		case '-':
			cur.del = append(cur.del, i)
			i++
		case '+':
			cur.ins = append(cur.ins, j)
			j++
		}
	}
	flush()
	return out
}

// myers returns the edit script ('=', '-', '+') turning a into b.
func myers(a, b []string) []byte {
	n, m := len(a), len(b)
	max := n + m
	if max == 0 {
		return nil
	}
	off := max
	v := make([]int, 2*max+2)
	var trace [][]int
	for d := 0; d <= max; d++ {
		trace = append(trace, append([]int(nil), v[off-d:off+d+2]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(trace, n, m, d)
			}
		}
	}
	return nil
}

// backtrack walks the saved frontiers back from (n, m); trace[d] holds
// v[-d..d+1] as it was before round d.
func backtrack(trace [][]int, n, m, d int) []byte {
	var ops []byte
	x, y := n, m
	for ; d > 0; d-- {
		prev := trace[d]
		at := func(k int) int { return prev[k+d] }
		k := x - y
		var pk int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		py := px - pk
		for x > px && y > py {
			ops = append(ops, '=')
			x--
			y--
		}
		if x == px {
			ops = append(ops, '+')
		} else {
			ops = append(ops, '-')
		}
		x, y = px, py
	}
	for x > 0 && y > 0 {
		ops = append(ops, '=')
		x--
		y--
	}
	for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
		ops[i], ops[j] = ops[j], ops[i]
	}
	return ops
}
