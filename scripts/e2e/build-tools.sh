#!/usr/bin/env bash
# Builds the e2e suite's Go-built components from the Go module proxy and caches
# them, keyed by version, in ${SIDECARIZE_CACHE:-$HOME/.cache/sidecarize}/bin:
#   kube-apiserver-<k8s>, kubectl-<k8s>  (k8s.io/kubernetes, staging modules
#                                          replaced by their published v0.x.y)
#   etcd-<etcd>                          (go.etcd.io/etcd/server/v3)
#   kustomize-<kustomize>                (sigs.k8s.io/kustomize/kustomize/v5)
#   helm-<v3>, helm-<v4>                 (helm.sh/helm/v3, helm.sh/helm/v4)
#   argocd-cmp-server-<v>, argocd-cmpclient-<v>  (e2e/argocd: argo-cd/v2)
# Re-running is cheap: a binary that exists is reused.
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS="${GOFLAGS:-} -mod=mod"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache=${SIDECARIZE_CACHE:-$HOME/.cache/sidecarize}
bin=$cache/bin
build=$cache/build
mkdir -p "$bin" "$build"
go=${GO:-go}

log() { echo "build-tools: $*" >&2; }

# build_in DIR OUT PKG [LDFLAGS]: go build PKG inside module DIR to OUT, atomically.
build_in() {
  local dir=$1 out=$2 pkg=$3 ldflags=${4:-}
  local tmp
  tmp="$out.tmp.$$"
  log "building $pkg -> $out"
  (cd "$dir" && CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$pkg")
  mv -f "$tmp" "$out"
}

kubernetes() {
  local api=$bin/kube-apiserver-$KUBERNETES_VERSION ctl=$bin/kubectl-$KUBERNETES_VERSION
  [ -x "$api" ] && [ -x "$ctl" ] && return 0
  local dir=$build/kubernetes-$KUBERNETES_VERSION
  mkdir -p "$dir"
  # kubernetes' go.mod replaces each staging module with ./staging/src/<path>;
  # read that list from the downloaded go.mod.
  local gomod
  gomod=$(cd "$dir" && "$go" mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$gomod" ] || { log "cannot find k8s.io/kubernetes@$KUBERNETES_VERSION go.mod"; exit 1; }
  local replaces
  replaces=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\t\1 => \1 '"$KUBE_STAGING_VERSION"'#p' "$gomod")
  [ -n "$replaces" ] || { log "no staging replaces found in $gomod"; exit 1; }
  awk -v v="$KUBERNETES_VERSION" -v r="$replaces" '
    /^\/\// { next }
    { gsub(/@KUBERNETES_VERSION@/, v); if ($0 == "@REPLACES@") { print r; next } print }
  ' "$here/kubernetes.go.mod.tmpl" >"$dir/go.mod"
  (cd "$dir" && "$go" get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION")
  local minor=${KUBERNETES_VERSION#v*.}
  minor=${minor%%.*}
  local major=${KUBERNETES_VERSION#v}
  major=${major%%.*}
  local ld="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  [ -x "$api" ] || build_in "$dir" "$api" k8s.io/kubernetes/cmd/kube-apiserver "$ld"
  [ -x "$ctl" ] || build_in "$dir" "$ctl" k8s.io/kubernetes/cmd/kubectl "$ld"
}

# simple_module NAME MODULE VERSION PKG OUT [LDFLAGS]: a one-require throwaway module.
simple_module() {
  local name=$1 mod=$2 ver=$3 pkg=$4 out=$5 ldflags=${6:-}
  [ -x "$out" ] && return 0
  local dir=$build/$name-$ver
  mkdir -p "$dir"
  printf 'module sidecarize.local/%s-build\n\ngo 1.26.0\n' "$name" >"$dir/go.mod"
  (cd "$dir" && "$go" get "$pkg@$ver" "$mod@$ver")
  build_in "$dir" "$out" "$pkg" "$ldflags"
}

etcd() {
  simple_module etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 "$bin/etcd-$ETCD_VERSION"
}

kustomize() {
  simple_module kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5 "$bin/kustomize-$KUSTOMIZE_VERSION"
}

# helm MAJOR VERSION: helm.sh/helm/vMAJOR/cmd/helm, with its version stamped as
# helm's Makefile does (`helm version` and the plugin API see it).
helm() {
  local major=$1 ver=$2
  simple_module "helm$major" "helm.sh/helm/v$major" "$ver" "helm.sh/helm/v$major/cmd/helm" \
    "$bin/helm-$ver" "-X helm.sh/helm/v$major/internal/version.version=$ver"
}
helm3() { helm 3 "$HELM3_VERSION"; }
helm4() { helm 4 "$HELM4_VERSION"; }

# argocd: Argo CD's argocd-cmp-server and e2e/argocd's cmpclient (the
# repo-server's side of the plugin protocol), from e2e/argocd's module (it
# pins argo-cd and carries argo-cd's replace block).
argocd() {
  local srv=$bin/argocd-cmp-server-$ARGOCD_VERSION cli=$bin/argocd-cmpclient-$ARGOCD_VERSION
  local dir=$here/../../e2e/argocd
  grep -q "github.com/argoproj/argo-cd/v2 $ARGOCD_VERSION\$" "$dir/go.mod" ||
    { log "e2e/argocd/go.mod does not require argo-cd $ARGOCD_VERSION"; exit 1; }
  [ -x "$srv" ] || build_in "$dir" "$srv" ./cmd/argocd-cmp-server
  [ -x "$cli" ] || build_in "$dir" "$cli" ./cmd/cmpclient
}

what=${1:-all}
case "$what" in
  kubernetes) kubernetes ;;
  etcd) etcd ;;
  kustomize) kustomize ;;
  helm) helm3; helm4 ;;
  argocd) argocd ;;
  all) etcd; kustomize; helm3; helm4; argocd; kubernetes ;;
  *) echo "usage: build-tools.sh [all|kubernetes|etcd|kustomize|helm|argocd]" >&2; exit 2 ;;
esac
echo "e2e binaries in $bin:"
ls -1 "$bin" | sed 's/^/  /'
