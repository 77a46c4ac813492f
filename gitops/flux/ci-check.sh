#!/bin/sh
# Flux applies what is committed: keep the rendered output in the repository
# (app/ → out/, a Flux Kustomization pointing at ./out) and gate every change
# on it being current. Exit 3 means "run sidecarize and commit out/".
set -eu
sidecarize -c sidecarize.yaml app/ -o out/ --check
