#!/usr/bin/env bash
# Installs what the tests need, idempotently: `deps.sh haproxy` for `make test`,
# `deps.sh all` for `make e2e`. Debian packages via apt-get (CI runs as root).
#
# `all` also builds (once; cached by version in
# ${SIDECARIZE_CACHE:-$HOME/.cache/sidecarize}/bin) kube-apiserver, kubectl,
# etcd, kustomize and helm (v3 and v4) from the Go module proxy: scripts/e2e/build-tools.sh.
set -euo pipefail
# bash reads a script as it runs it: run from a private copy, so that editing
# this file during the (long) first build cannot break the running one.
if [ -z "${DEPS_SH_DIR:-}" ]; then
  DEPS_SH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  export DEPS_SH_DIR
  copy=$(mktemp)
  cp "${BASH_SOURCE[0]}" "$copy"
  trap 'rm -f "$copy"' EXIT
  bash "$copy" "$@"
  exit
fi
want=${1:-all}
here=$DEPS_SH_DIR

apt_updated=
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: need root to install ${missing[*]} (or install them yourself)" >&2
    exit 1
  fi
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  # Packages with a daemon (prometheus) must not start it: only their tools are
  # used. policy-rc.d 101 = "action forbidden" for invoke-rc.d.
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  [ -z "$made_policy" ] || rm -f "$policy"
  [ "$rc" -eq 0 ] || { echo "deps.sh: apt-get install ${missing[*]} failed ($rc)" >&2; exit "$rc"; }
}

# stop_service NAME: the package's daemon is not wanted; stop and disable it.
stop_service() {
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now "$1" >/dev/null 2>&1 || true
  fi
  if pgrep -x "$1" >/dev/null 2>&1 && command -v service >/dev/null; then
    service "$1" stop >/dev/null 2>&1 || true
  fi
}

# Fluent Bit 5.1.1 (FLUENT_BIT_BIN; ../shared/tools beside the checkout) is
# run by `make test` and `make e2e`: its runtime libraries.
apt_install libssl3 libsqlite3-0 libyaml-0-2

# The tests run every generated haproxy.cfg on Debian's HAProxy 2.6 (installed
# here) and on 3.4 (not packaged: $HAPROXY34_BIN, else
# shared/tools/haproxy-3.4.0/haproxy beside the checkout, as CI has it; its
# runtime libraries are installed here).
haproxy_deps() {
  apt_install libssl3 libpcre2-8-0 libcrypt1
  [ -n "${HAPROXY26_BIN:-}" ] || [ -x /usr/sbin/haproxy ] || apt_install haproxy
  local h34=${HAPROXY34_BIN:-}
  if [ -z "$h34" ]; then
    for d in "$here/../../shared" "$here/../../../shared"; do
      [ -x "$d/tools/haproxy-3.4.0/haproxy" ] && { h34=$(cd "$d/tools/haproxy-3.4.0" && pwd)/haproxy; break; }
    done
  fi
  if [ -z "$h34" ] || [ ! -x "$h34" ]; then
    echo "deps.sh: HAProxy 3.4 not found: set HAPROXY34_BIN (the tests fail without it in CI)" >&2
    [ "${CI:-}" != true ] || exit 1
  fi
}

# The prometheus server and promtool (Debian's prometheus package; its daemon
# is not wanted: the tests and the demo run the server themselves).
prometheus_deps() {
  if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    apt_install prometheus
    stop_service prometheus
  fi
}

case "$want" in
  haproxy) haproxy_deps ;;
  demo) haproxy_deps; prometheus_deps ;;
  all)
    haproxy_deps
    # busybox: the logs pattern's tail engine runs busybox tail (its image).
    command -v busybox >/dev/null || apt_install busybox
    # ruby: its regex engine is Onigmo, fluent-bit's; the logs e2e test runs
    # the generated parser regexes through it.
    command -v ruby >/dev/null || apt_install ruby
    prometheus_deps
    # The exporter e2e tests run Debian's PostgreSQL, Redis and nginx and
    # their exporters themselves (in a temp dir and a netns): the packages'
    # daemons are not wanted.
    apt_install postgresql prometheus-postgres-exporter redis-server prometheus-redis-exporter nginx-light prometheus-nginx-exporter
    for s in postgresql prometheus-postgres-exporter redis-server prometheus-redis-exporter nginx prometheus-nginx-exporter; do
      stop_service "$s"
    done
    # unshare/nsenter (util-linux) and sleep are essential packages; the pod
    # simulator needs root for network namespaces.
    "$here/e2e/build-tools.sh" all
    if ! command -v kpt >/dev/null; then
      echo "deps.sh: kpt is not installed (it is not on the Go module proxy or in Debian); the KRM test needs it" >&2
    fi
    echo "haproxy:  ${HAPROXY26_BIN:-/usr/sbin/haproxy}"
    echo "promtool: $(command -v promtool)"
    echo "kpt:      $(command -v kpt || echo missing)"
    ;;
  *) echo "usage: deps.sh haproxy|demo|all" >&2; exit 2 ;;
esac
