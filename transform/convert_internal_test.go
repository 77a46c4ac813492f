package transform

import (
	"encoding/json"
	"math/rand"
	"testing"
)

// TestJSONString: strings read as encoding/json reads them, escapes,
// HTML-escaped characters, surrogate pairs and invalid UTF-8 included.
func TestJSONString(t *testing.T) {
	cases := []string{"", "plain", "a\nb\t\"c\"\\\\ / <&> \u2028 é 😀", "\x00\x1f\x7f", "bad \xff utf-8", `\u0041 written`}
	rng := rand.New(rand.NewSource(1))
	alphabet := []rune("ab\n\t\"\\/<>&\x01é😀\u2028")
	for i := 0; i < 500; i++ {
		r := make([]rune, rng.Intn(20))
		for j := range r {
			r[j] = alphabet[rng.Intn(len(alphabet))]
		}
		cases = append(cases, string(r))
	}
	for _, c := range cases {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		// By hand, and a \uD83D\uDE00 pair the slow way.
		for _, in := range [][]byte{b, []byte(`"` + `\ud83d\ude00` + string(b[1:]))} {
			if err := json.Unmarshal(in, &want); err != nil {
				t.Fatal(err)
			}
			got, rest, err := jsonString(append(in, ",x"...))
			if err != nil || got != want || string(rest) != ",x" {
				t.Errorf("jsonString(%s) = %q, %q, %v; want %q", in, got, rest, err, want)
			}
		}
	}
}
