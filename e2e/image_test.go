package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/sidecarize/sidecarize/e2e/internal/env"
	"github.com/sidecarize/sidecarize/e2e/internal/manifest"
)

// TestImage builds the container image the way `make image` does (hack/image:
// go-containerregistry, no container daemon), reads the OCI layout with
// nothing but the standard library, checks every platform's image (nonroot
// user, entrypoint `sidecarize fn`, a static binary for the right machine)
// and runs the host platform's binary, unpacked from its layer, as the
// image's user against a ResourceList: the answer equals the CLI's.
// SIDECARIZE_IMAGE=<layout dir> checks an image built elsewhere.
func TestImage(t *testing.T) {
	dir := os.Getenv("SIDECARIZE_IMAGE")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "image")
		cmd := exec.Command("go", "run", ".", "-repo", env.RepoRoot(), "-out", dir, "-version", "v0.0.0-e2e")
		cmd.Dir = filepath.Join(env.RepoRoot(), "hack", "image")
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("hack/image: %v\n%s", err, out)
		}
		if _, err := os.Stat(dir + ".tar"); err != nil {
			t.Errorf("no tarball beside the layout: %v", err)
		}
	}
	var layoutFile struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	readJSON(t, filepath.Join(dir, "oci-layout"), &layoutFile)
	if layoutFile.ImageLayoutVersion != "1.0.0" {
		t.Errorf("oci-layout: imageLayoutVersion %q", layoutFile.ImageLayoutVersion)
	}
	var index ociIndex
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	// index.json lists the image index (layout.Write) or the images.
	manifests := index.Manifests
	if len(manifests) == 1 && strings.Contains(manifests[0].MediaType, "index") {
		var inner ociIndex
		readBlob(t, dir, manifests[0].Digest, &inner)
		manifests = inner.Manifests
	}
	platforms := map[string]bool{}
	var hostBin string
	for _, m := range manifests {
		if m.Platform == nil {
			t.Fatalf("manifest %s has no platform", m.Digest)
		}
		plat := m.Platform.OS + "/" + m.Platform.Architecture
		platforms[plat] = true
		t.Run(plat, func(t *testing.T) {
			var man ociManifest
			readBlob(t, dir, m.Digest, &man)
			var cfg ociConfig
			readBlob(t, dir, man.Config.Digest, &cfg)
			if cfg.OS != m.Platform.OS || cfg.Architecture != m.Platform.Architecture {
				t.Errorf("config says %s/%s", cfg.OS, cfg.Architecture)
			}
			if u := cfg.Config.User; u == "" || u == "0" || strings.HasPrefix(u, "0:") || u == "root" {
				t.Errorf("user %q: want a non-root numeric user", u)
			}
			if want := []string{"/usr/local/bin/sidecarize", "fn"}; strings.Join(cfg.Config.Entrypoint, " ") != strings.Join(want, " ") {
				t.Errorf("entrypoint %q, want %q", cfg.Config.Entrypoint, want)
			}
			files := map[string][]byte{}
			for _, l := range man.Layers {
				for name, data := range untarLayer(t, dir, l) {
					files[name] = data
				}
			}
			bin, ok := files["usr/local/bin/sidecarize"]
			if !ok {
				t.Fatalf("no usr/local/bin/sidecarize in the layers (files: %d)", len(files))
			}
			if !strings.Contains(string(files["etc/passwd"]), ":"+strings.Split(cfg.Config.User, ":")[0]+":") {
				t.Errorf("etc/passwd has no entry for user %s", cfg.Config.User)
			}
			checkStaticELF(t, bin, m.Platform.Architecture)
			if m.Platform.OS == runtime.GOOS && m.Platform.Architecture == runtime.GOARCH {
				// A directory the image's user can enter (t.TempDir's
				// parents are private to root).
				d, err := os.MkdirTemp("", "sidecarize-image-bin-")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(d) })
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
				hostBin = filepath.Join(d, "sidecarize")
				if err := os.WriteFile(hostBin, bin, 0o755); err != nil {
					t.Fatal(err)
				}
				runImageBinary(t, hostBin, cfg)
			}
		})
	}
	for _, want := range []string{"linux/amd64", "linux/arm64"} {
		if !platforms[want] {
			t.Errorf("the image index has no %s image (has %v)", want, platforms)
		}
	}
	if hostBin == "" {
		t.Errorf("no image for the host platform %s/%s to run", runtime.GOOS, runtime.GOARCH)
	}
}

// runImageBinary runs the unpacked binary as the image runs it (its
// entrypoint, its user when the test runs as root) on the KRM package and
// compares with the CLI.
func runImageBinary(t *testing.T, bin string, cfg ociConfig) {
	t.Helper()
	rl := resourceList(t)
	args := append([]string{}, cfg.Config.Entrypoint[1:]...)
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(rl)
	cmd.Dir = "/"
	cmd.Env = append([]string{}, cfg.Config.Env...)
	if os.Geteuid() == 0 {
		var uid, gid uint32
		if _, err := fmt.Sscanf(cfg.Config.User, "%d:%d", &uid, &gid); err != nil {
			t.Fatalf("user %q: %v", cfg.Config.User, err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the image's binary: %v\n%s", err, stderr.String())
	}
	items, err := resourceListItems(out)
	if err != nil {
		t.Fatalf("the image's answer: %v\n%s", err, out)
	}
	// The image's binary carries its own version (the status records it).
	want, err := withoutStatusVersion(packageOutput(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := withoutStatusVersion(items)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameObjects(want, got); err != nil {
		t.Errorf("the image's KRM answer differs from the CLI's: %v", err)
	}
}

// withoutStatusVersion drops the version from every sidecarize.dev/status
// (the rest of the status is compared).
func withoutStatusVersion(data []byte) ([]byte, error) {
	objs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, o := range objs {
		for _, ann := range []map[string]any{manifest.Map(o, "metadata", "annotations"), manifest.Map(o.PodTemplate(), "metadata", "annotations")} {
			raw, ok := ann[manifest.StatusAnnotation].(string)
			if !ok {
				continue
			}
			var st map[string]any
			if err := json.Unmarshal([]byte(raw), &st); err != nil {
				return nil, err
			}
			delete(st, "version")
			b, err := json.Marshal(st)
			if err != nil {
				return nil, err
			}
			ann[manifest.StatusAnnotation] = string(b)
		}
		out.WriteString("---\n")
		out.Write(o.JSON())
		out.WriteString("\n")
	}
	return out.Bytes(), nil
}

// resourceList wraps the KRM test package and its config in a ResourceList.
func resourceList(t *testing.T) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n")
	cfg, err := os.ReadFile(filepath.Join(env.RepoRoot(), pkgConfig))
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString(indent(string(cfg), "  "))
	b.WriteString("items:\n")
	ents, err := os.ReadDir(filepath.Join(env.RepoRoot(), pkgDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(env.RepoRoot(), pkgDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			b.WriteString("- ")
			b.WriteString(strings.TrimPrefix(indent(strings.TrimPrefix(doc, "---\n"), "  "), "  "))
		}
	}
	return []byte(b.String())
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// resourceListItems is the items of a ResourceList as a YAML stream.
func resourceListItems(data []byte) ([]byte, error) {
	objs, err := manifest.Parse(data)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 || objs[0].Kind() != "ResourceList" {
		return nil, fmt.Errorf("want one ResourceList, got %d documents", len(objs))
	}
	var out bytes.Buffer
	for _, it := range manifest.Slice(objs[0], "items") {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(b)
		out.WriteString("\n")
	}
	return out.Bytes(), nil
}

// checkStaticELF: a Linux ELF for arch with no interpreter and no shared
// libraries.
func checkStaticELF(t *testing.T, bin []byte, arch string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("not an ELF binary: %v", err)
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != want {
		t.Errorf("ELF machine %v, want %v for %s", f.Machine, want, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has an interpreter (dynamically linked)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries: %v", libs)
	}
}

type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform,omitempty"`
}

type ociIndex struct {
	Manifests []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	Config ociDescriptor   `json:"config"`
	Layers []ociDescriptor `json:"layers"`
}

type ociConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User       string   `json:"User"`
		Entrypoint []string `json:"Entrypoint"`
		Env        []string `json:"Env"`
	} `json:"config"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func blobPath(dir, digest string) string {
	algo, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(dir, "blobs", algo, hex)
}

func readBlob(t *testing.T, dir, digest string, v any) {
	t.Helper()
	readJSON(t, blobPath(dir, digest), v)
}

// untarLayer returns a layer's regular files.
func untarLayer(t *testing.T, dir string, l ociDescriptor) map[string][]byte {
	t.Helper()
	f, err := os.Open(blobPath(dir, l.Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(l.MediaType, "gzip") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = gz
	}
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Name == "usr/local/bin/sidecarize" && h.Mode&0o111 == 0 {
			t.Errorf("the binary is not executable (mode %o)", h.Mode)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = data
	}
	return files
}
