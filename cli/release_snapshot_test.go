package cli_test

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestReleaseSnapshot checks what `make release-snapshot` built with
// goreleaser (SIDECARIZE_RELEASE_DIST=dist/release): an archive per
// linux/darwin/windows × amd64/arm64 holding a static binary for that
// platform (read back with debug/elf, debug/macho, debug/pe), LICENSE and
// README.md; checksums.txt matching every archive; the krew manifest
// pointing at each archive with its sha256; and this machine's binary
// reporting the release version and commit, also as `kubectl sidecarize`,
// and installed with the real krew from the manifest and archive.
func TestReleaseSnapshot(t *testing.T) {
	dist := os.Getenv("SIDECARIZE_RELEASE_DIST")
	if dist == "" {
		t.Skip("SIDECARIZE_RELEASE_DIST not set: `make release-snapshot` runs this test")
	}
	sums := map[string]string{}
	f, err := os.Open(filepath.Join(dist, "checksums.txt"))
	must(t, err)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("checksums.txt: bad line %q", sc.Text())
		}
		sums[name] = sum
	}
	f.Close()

	var meta struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
	}
	b, err := os.ReadFile(filepath.Join(dist, "metadata.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &meta))

	archives := map[string]string{} // os/arch → archive name
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, arch := range []string{"amd64", "arm64"} {
			ext, bin := ".tar.gz", "sidecarize"
			if goos == "windows" {
				ext, bin = ".zip", "sidecarize.exe"
			}
			name := fmt.Sprintf("sidecarize_%s_%s_%s%s", meta.Version, goos, arch, ext)
			archives[goos+"/"+arch] = name
			t.Run(goos+"_"+arch, func(t *testing.T) {
				data, err := os.ReadFile(filepath.Join(dist, name))
				must(t, err)
				sum := sha256.Sum256(data)
				if got := hex.EncodeToString(sum[:]); sums[name] != got {
					t.Errorf("%s: checksums.txt says %q, the file's sha256 is %s", name, sums[name], got)
				}
				files := unpack(t, name, data)
				for _, want := range []string{bin, "LICENSE", "README.md"} {
					if _, ok := files[want]; !ok {
						t.Errorf("%s lacks %s", name, want)
					}
				}
				checkBinary(t, goos, arch, files[bin])
				if goos == runtime.GOOS && arch == runtime.GOARCH {
					runReleased(t, files[bin], meta.Version)
					krewInstall(t, filepath.Join(dist, "krew", "sidecarize.yaml"), filepath.Join(dist, name), meta.Version)
				}
			})
		}
	}

	// The krew manifest: one platform per archive, with its sha256.
	b, err = os.ReadFile(filepath.Join(dist, "krew", "sidecarize.yaml"))
	must(t, err)
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Version          string `json:"version"`
			ShortDescription string `json:"shortDescription"`
			Platforms        []struct {
				Bin      string `json:"bin"`
				URI      string `json:"uri"`
				Sha256   string `json:"sha256"`
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	must(t, yaml.Unmarshal(b, &m))
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "sidecarize" {
		t.Errorf("krew manifest: %s %s %s", m.APIVersion, m.Kind, m.Metadata.Name)
	}
	if m.Spec.Version != "v"+meta.Version || m.Spec.ShortDescription == "" {
		t.Errorf("krew manifest: version %q (want v%s), shortDescription %q", m.Spec.Version, meta.Version, m.Spec.ShortDescription)
	}
	seen := map[string]bool{}
	for _, p := range m.Spec.Platforms {
		key := p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
		name, ok := archives[key]
		if !ok {
			t.Errorf("krew manifest: platform %s has no archive", key)
			continue
		}
		seen[key] = true
		if !strings.HasSuffix(p.URI, "/"+name) || !strings.HasPrefix(p.URI, "https://github.com/sidecarize/sidecarize/releases/download/") {
			t.Errorf("krew manifest %s: uri %s, want the release download of %s", key, p.URI, name)
		}
		if p.Sha256 != sums[name] {
			t.Errorf("krew manifest %s: sha256 %s, archive %s", key, p.Sha256, sums[name])
		}
		wantBin := "sidecarize"
		if strings.HasPrefix(key, "windows/") {
			wantBin += ".exe"
		}
		if p.Bin != wantBin {
			t.Errorf("krew manifest %s: bin %q, want %q", key, p.Bin, wantBin)
		}
	}
	if len(seen) != len(archives) {
		t.Errorf("krew manifest covers %d of %d platforms", len(seen), len(archives))
	}
}

// unpack returns the regular files of a .tar.gz or .zip by base name.
func unpack(t *testing.T, name string, data []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	if strings.HasSuffix(name, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		must(t, err)
		for _, zf := range zr.File {
			rc, err := zf.Open()
			must(t, err)
			b, err := io.ReadAll(rc)
			must(t, err)
			rc.Close()
			files[filepath.Base(zf.Name)] = b
		}
		return files
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	must(t, err)
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		must(t, err)
		files[filepath.Base(h.Name)] = b
	}
	return files
}

// checkBinary reads the executable's header: the right format and CPU, and
// on Linux a static binary (no program interpreter).
func checkBinary(t *testing.T, goos, arch string, bin []byte) {
	t.Helper()
	r := bytes.NewReader(bin)
	switch goos {
	case "linux":
		f, err := elf.NewFile(r)
		must(t, err)
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
		if f.Machine != want {
			t.Errorf("ELF machine %v, want %v", f.Machine, want)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("not static: the ELF binary has a program interpreter")
			}
		}
	case "darwin":
		f, err := macho.NewFile(r)
		must(t, err)
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[arch]
		if f.Cpu != want {
			t.Errorf("Mach-O cpu %v, want %v", f.Cpu, want)
		}
	case "windows":
		f, err := pe.NewFile(r)
		must(t, err)
		want := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}[arch]
		if f.Machine != want {
			t.Errorf("PE machine %#x, want %#x", f.Machine, want)
		}
	}
}

// runReleased runs this platform's released binary: `version -o json`
// names the release version and the commit, and kubectl finds it as a
// plugin.
func runReleased(t *testing.T, bin []byte, version string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "kubectl-sidecarize")
	must(t, os.WriteFile(path, bin, 0o755))
	out, err := exec.Command(path, "version", "-o", "json").Output()
	must(t, err)
	var v struct{ Version, Commit, Date string }
	must(t, json.Unmarshal(out, &v))
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	must(t, err)
	if v.Version != "v"+version || v.Commit != strings.TrimSpace(string(head)) || v.Date == "" {
		t.Errorf("released binary: version %+v, want v%s at commit %s with a date", v, version, head)
	}
	kubectlSidecarize(t, tool(t, "KUBECTL_BIN", "kubectl"), dir, version)
}

// kubectlSidecarize runs `kubectl sidecarize version` with dir first on
// PATH: kubectl finds the plugin there.
func kubectlSidecarize(t *testing.T, kubectl, dir, version string, env ...string) {
	t.Helper()
	if kubectl == "" {
		return
	}
	cmd := exec.Command(kubectl, "sidecarize", "version")
	cmd.Env = append(append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH")), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "v"+version+" ") {
		t.Errorf("kubectl sidecarize version (plugin in %s): %v: %s", dir, err, out)
	}
}

// tool finds a host program: $envVar, else name on PATH; "" (and the check
// left out) when there is none, a failure in CI.
func tool(t *testing.T, envVar, name string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no %s (set %s or put it on PATH): required in CI", name, envVar)
	}
	t.Logf("no %s: the check that needs it is left out", name)
	return ""
}

// krewInstall installs the plugin with the real krew from the release's
// manifest and this platform's archive (`kubectl krew install --manifest
// --archive`: what a user does before the manifest is in the krew index;
// no network), into a fresh KREW_ROOT, and runs it as `kubectl sidecarize`
// from krew's bin directory.
func krewInstall(t *testing.T, manifest, archive, version string) {
	t.Helper()
	kubectl, krew := tool(t, "KUBECTL_BIN", "kubectl"), tool(t, "KREW_BIN", "krew")
	if kubectl == "" || krew == "" {
		return
	}
	root, bin := t.TempDir(), t.TempDir()
	must(t, os.Symlink(krew, filepath.Join(bin, "kubectl-krew")))
	env := []string{"KREW_ROOT=" + root, "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	cmd := exec.Command(kubectl, "krew", "install", "--manifest="+manifest, "--archive="+archive)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Installed plugin: sidecarize") {
		t.Fatalf("kubectl krew install: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "kubectl-sidecarize")); err != nil {
		t.Errorf("krew installed no kubectl-sidecarize link: %v", err)
	}
	kubectlSidecarize(t, kubectl, filepath.Join(root, "bin"), version, "KREW_ROOT="+root)
}
