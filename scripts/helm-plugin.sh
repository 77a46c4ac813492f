#!/usr/bin/env bash
# Builds the Helm 4 post-renderer plugin (helm/sidecarize):
#   helm-plugin.sh            the host's binary into helm/sidecarize/bin/<os>-<arch>/,
#                             for `helm plugin install ./helm/sidecarize`
#   helm-plugin.sh archive    all six OS/arch binaries and plugin.yaml (version
#                             stamped) in dist/helm-sidecarize-<version>.tgz, for
#                             `helm plugin install --verify=false <url or file>`
# VERSION (default: git describe, else 0.1.0) is the plugin's semver and the
# binary's version; PLATFORMS (default: the six) limits the archive's (the e2e
# test builds the host's only).
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
go=${GO:-go}
version=${VERSION:-$(git describe --tags --match 'v*' 2>/dev/null || echo v0.1.0)}
version=${version#v}
ldflags="-s -w -X github.com/sidecarize/sidecarize/cli.Version=v$version"

build() { # build OS ARCH DIR
  local exe=sidecarize
  [ "$1" = windows ] && exe=sidecarize.exe
  mkdir -p "$3/bin/$1-$2"
  CGO_ENABLED=0 GOOS=$1 GOARCH=$2 "$go" build -trimpath -ldflags "$ldflags" -o "$3/bin/$1-$2/$exe" ./cmd/sidecarize
}

case "${1:-host}" in
  host)
    build "$("$go" env GOOS)" "$("$go" env GOARCH)" helm/sidecarize
    echo "built helm/sidecarize/bin/$("$go" env GOOS)-$("$go" env GOARCH); now: helm plugin install ./helm/sidecarize"
    ;;
  archive)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    dir=$tmp/helm-sidecarize
    mkdir -p "$dir"
    sed "s/^version: .*/version: $version/" helm/sidecarize/plugin.yaml >"$dir/plugin.yaml"
    cp LICENSE "$dir/" 2>/dev/null || true
    for p in ${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}; do
      build "${p%/*}" "${p#*/}" "$dir"
    done
    out=${OUT:-dist/helm-sidecarize-$version.tgz}
    mkdir -p "$(dirname "$out")"
    tar -C "$tmp" --owner=0 --group=0 --numeric-owner -czf "$out" helm-sidecarize
    echo "$out"
    ;;
  *) echo "usage: helm-plugin.sh [host|archive]" >&2; exit 2 ;;
esac
