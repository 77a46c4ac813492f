package linediff

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	in := "a: 1\n# note\nb:\n  limits :\n    cpu: 1\n  modes: [ \"RWO\" ]\n  targetPort: 8080\nc: {}\n"
	for _, c := range []struct {
		name, out string
		bad       []string // substrings of the messages, in order
	}{
		{"same", in, nil},
		{"insertions and edits", "a: 1\n# note\nb:\n  limits :\n    cpu: 1\n    memory: 1Gi\n  modes: [ \"RWO\" ]\n  targetPort: 9080\nc:\n  x: y\nd: 1\n", nil},
		{"comment dropped", "a: 1\nb:\n  limits :\n    cpu: 1\n  modes: [ \"RWO\" ]\n  targetPort: 8080\nc: {}\n", []string{"line 2 dropped"}},
		{"key spacing", "a: 1\n# note\nb:\n  limits:\n    cpu: 1\n  modes: [ \"RWO\" ]\n  targetPort: 8080\nc: {}\n", []string{"line 4 dropped"}},
		{"flow spacing", "a: 1\n# note\nb:\n  limits :\n    cpu: 1\n  modes: [\"RWO\"]\n  targetPort: 8080\nc: {}\n", []string{"line 6 reformatted"}},
		{"re-indented", "a: 1\n# note\nb:\n    limits :\n        cpu: 1\n    modes: [ \"RWO\" ]\n    targetPort: 8080\nc: {}\n", []string{"line 4", "line 5", "line 6", "line 7"}},
		{"crlf lost", strings.ReplaceAll(in, "\n", "\r\n"), []string{"line 1 reformatted", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7", "line 8"}},
		{"final newline", strings.TrimSuffix(in, "\n"), []string{"line 8 reformatted"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Check([]byte(in), []byte(c.out))
			if len(got) != len(c.bad) {
				t.Fatalf("got %d messages, want %d:\n%s", len(got), len(c.bad), strings.Join(got, "\n"))
			}
			for i, m := range got {
				if !strings.Contains(m, c.bad[i]) {
					t.Errorf("message %d = %q, want it to contain %q", i, m, c.bad[i])
				}
			}
		})
	}
}

// A last line without its newline gets one when documents follow it (the
// objects generated after the last workload): not a change. Written back
// without documents after it, it must still have none.
func TestCheckNoFinalNewline(t *testing.T) {
	in := "a: 1\nb: 2"
	for out, want := range map[string]int{
		"a: 1\nb: 2\n---\nc: 3":   0,
		"a: 1\nb: 2":              0,
		"a: 1\nb: 2\n":            1,
		"a: 1\nb: 2\n---\nc: 3\n": 0,
		"a: 1\nb:  2\n---\nc: 3":  1,
		"a: 1\nb: 2\r\n---\nc: 3": 1, // a CR an LF file did not have
	} {
		if got := Check([]byte(in), []byte(out)); len(got) != want {
			t.Errorf("%q: got %q, want %d messages", out, got, want)
		}
	}
	// A CRLF file's last line gets CRLF.
	in = "a: 1\r\nb: 2"
	for out, want := range map[string]int{
		"a: 1\r\nb: 2\r\n---\r\nc: 3": 0,
		"a: 1\r\nb: 2\n---\r\nc: 3":   1,
	} {
		if got := Check([]byte(in), []byte(out)); len(got) != want {
			t.Errorf("%q: got %q, want %d messages", out, got, want)
		}
	}
}

// A JSON line that gains a comma because an entry follows it carries an
// edit.
func TestCheckJSONComma(t *testing.T) {
	in := "{\n  \"a\": {\n    \"b\": \"c\"\n  }\n}\n"
	if got := Check([]byte(in), []byte("{\n  \"a\": {\n    \"b\": \"c\",\n    \"d\": \"e\"\n  }\n}\n")); len(got) != 0 {
		t.Errorf("comma added: %q", got)
	}
	if got := Check([]byte(in), []byte("{\n  \"a\": {\n    \"b\":\"c\",\n    \"d\": \"e\"\n  }\n}\n")); len(got) != 1 {
		t.Errorf("reformatted and comma added: %q", got)
	}
}
