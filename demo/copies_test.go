package demo_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// talkFiles are the SHA-256 sums of seed 2's manifests (demo/README.md), as
// the talk published them. The repository holds only what it wrote: the
// demos and tests record the talk's facts (widgetario_test.go,
// patterns/logs/seed_test.go, patterns/tracing/seed_test.go), never its
// files.
var talkFiles = map[string]string{
	"20c52aa96f60968149ee43d80b7e6538357a341c88f450403a7ba3033684d0a1": "demo1/logging/fluentbit-config.yaml",
	"13c923cf1d1375bffdc3129a27dc098bef0c9ca48dc5e2bf085f59c667f5a52c": "demo1/widgetario/products-db.yaml",
	"d855713c45c0f1a137183b2bbf2425b7be129584ea16e0d972be9adaa9c78fd8": "demo1/widgetario/update/web.yaml",
	"e38818180d35e67d418c1240cf2baa531ffecaa7432732dc9cc896c9c01f4e77": "demo1/widgetario/web.yaml",
	"a3455267db1fe12de2c8f6b4ffc03c1a290e295053c37286a6e9cb888daa6553": "demo2/widgetario/update/products-db.yaml",
	"ff90570f22529a3b1a0f1fa3012053c0194d4a4a5c8b416550501f60ee8d6591": "demo3/envoy-demo/service1.yaml",
	"16620345167180ac9033b42b26df2e0ab7ddd92838358369c3acf25ccabba536": "demo3/envoy-demo/service2.yaml",
	"1f1fd8b2733f40fd0ba07ab38def4bde1f716e8f30873fae21eba48bf1fde0bd": "demo3/envoy-demo/src/front-proxy/front-envoy-jaeger.yaml",
	"c8e4d6cc391ff7d0bf6153cc4e94de5daac7ac6bb3423d13fcafece3b3129481": "demo3/envoy-demo/src/service1-proxy/service1-envoy-jaeger.yaml",
	"4fcd2919c4a569517f2191883070d0442c7c27c5b0cd4692eacce4e96f981c06": "demo3/envoy-demo/src/service2-proxy/service2-envoy-jaeger.yaml",
	"4307b5a7db32ebef3eaabe31f412d49638857dcc784f001fb3da1bd249eb2a2a": "demo3/envoy-demo/update/front-proxy.yaml",
	"335f820370505438a5314508a40ce8a8ab667680afa589225f2af8ed9fd51935": "demo3/envoy-demo/update/service1.yaml",
	"11e477db1ce761f26a48894e7c9d209c81a6814dee3601b6e23f02c3ebf811b8": "demo3/envoy-demo/update/service2.yaml",
}

func TestNoCopyOfTheTalksFiles(t *testing.T) {
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if orig, ok := talkFiles[hex.EncodeToString(sum[:])]; ok {
			t.Errorf("%s is a copy of the talk's %s: write the repository's own, record the talk's facts in a test", p, orig)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
