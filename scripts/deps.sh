#!/usr/bin/env bash
# Installs what the tests need, idempotently: `deps.sh haproxy` for `make test`,
# `deps.sh all` for `make e2e`. Debian packages via apt-get (CI runs as root).
set -euo pipefail
want=${1:-all}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: need root to install ${missing[*]} (or install them yourself)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

case "$want" in
  haproxy) command -v haproxy >/dev/null || apt_install haproxy ;;
  all)
    command -v haproxy >/dev/null || apt_install haproxy
    ;;
  *) echo "usage: deps.sh haproxy|all" >&2; exit 2 ;;
esac
