// Command image builds sidecarize's container image without a container
// daemon: a static binary per platform (CGO_ENABLED=0), one layer holding it
// and a passwd entry for its non-root user, assembled with
// go-containerregistry into a multi-arch OCI image index, written as an OCI
// image layout directory and a tarball of that directory (`make image`).
//
//	go run . -repo ../.. -out ../../dist/image [-platforms linux/amd64,linux/arm64] [-version v1.2.3]
//
// The entrypoint is `sidecarize fn` (the KRM function), the user 65532
// (nonroot), the working directory /work. Times are SOURCE_DATE_EPOCH (or
// 0), so the same sources give the same digests. Push it with `crane push
// --index dist/image ghcr.io/…` or `skopeo copy --all oci:dist/image docker://…`.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	uid     = 65532
	binPath = "usr/local/bin/sidecarize"
)

func main() {
	repo := flag.String("repo", "../..", "the sidecarize checkout")
	out := flag.String("out", "../../dist/image", "OCI layout directory to write (replaced); the tarball is <out>.tar")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch")
	version := flag.String("version", "", "version stamped into the binary (default: the build info's)")
	flag.Parse()
	if err := run(*repo, *out, strings.Split(*platforms, ","), *version); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(repo, out string, platforms []string, version string) error {
	created := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		created = time.Unix(n, 0).UTC()
	}
	tmp, err := os.MkdirTemp("", "sidecarize-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return fmt.Errorf("platform %q: expected os/arch", p)
		}
		bin := filepath.Join(tmp, goos+"-"+goarch, "sidecarize")
		if err := build(repo, goos, goarch, version, bin); err != nil {
			return err
		}
		img, err := image(bin, goos, goarch, version, created)
		if err != nil {
			return err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: goos, Architecture: goarch}},
		})
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if _, err := layout.Write(out, idx); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	if err := tarDir(out, out+".tar", created); err != nil {
		return err
	}
	fmt.Printf("%s (OCI layout) and %s.tar: index %s\n", out, out, d)
	return nil
}

// build compiles a static sidecarize for goos/goarch.
func build(repo, goos, goarch, version, out string) error {
	ldflags := "-s -w"
	if version != "" {
		ldflags += " -X github.com/sidecarize/sidecarize/cli.Version=" + version
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/sidecarize")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOTOOLCHAIN=local")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s/%s: %w", goos, goarch, err)
	}
	return nil
}

// image is one platform's image: a single layer, nonroot, entrypoint fn.
func image(bin, goos, goarch, version string, created time.Time) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := []struct {
		name string
		mode int64
		uid  int
		data []byte
		dir  bool
	}{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", uid, uid))},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", uid))},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: uid, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: binPath, mode: 0o755, data: data},
		{name: "work/", mode: 0o755, uid: uid, dir: true},
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: created, Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "hack/image: sidecarize " + version, Comment: "static sidecarize binary, nonroot user"},
	})
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = goos, goarch, v1.Time{Time: created}
	cf.Config.Entrypoint = []string{"/" + binPath, "fn"}
	cf.Config.Cmd = nil
	cf.Config.User = fmt.Sprintf("%d:%d", uid, uid)
	cf.Config.WorkingDir = "/work"
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot"}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "sidecarize",
		"org.opencontainers.image.description": "sidecarize as a KRM function (entrypoint: sidecarize fn); run other subcommands by overriding the entrypoint",
		"org.opencontainers.image.source":      "https://github.com/sidecarize/sidecarize",
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if version != "" {
		cf.Config.Labels["org.opencontainers.image.version"] = version
	}
	return mutate.ConfigFile(img, cf)
}

// tarDir writes dir's files (an OCI layout) as a tarball, sorted, with
// fixed times and owners.
func tarDir(dir, out string, created time.Time) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: created, Mode: 0o644, Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
