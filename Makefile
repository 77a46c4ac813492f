# sidecarize — the two commands: `make demo` and `make test`.
GO ?= go
# Short fuzz budgets are counts of inputs, not durations: Go before 1.27
# can fail a duration-bounded run with "context deadline exceeded" when a
# worker is mid-input at the deadline (golang/go#75804), with no crasher.
# FuzzStructure's count includes its ~2,900-entry seed corpus.
FUZZTIME_INJECT ?= 40000x
FUZZTIME_STRUCTURE ?= 3500x
FUZZTIME_QUICK ?= 100000x
export GOTOOLCHAIN ?= local
BIN := bin/sidecarize

.PHONY: all build test e2e bench fuzz fuzz-long demo golden clean helm-plugin helm-plugin-archive image release-snapshot

all: build

build:
	$(GO) build -o $(BIN) ./cmd/sidecarize

# Unit, golden (each run twice for idempotency), testscript CLI tests, and
# haproxy -c on every generated haproxy.cfg (scripts/deps.sh installs haproxy).
test:
	scripts/deps.sh haproxy
	$(GO) vet ./...
	$(GO) test ./...

# Short fuzz runs: FuzzInject (arbitrary bytes through the inject path,
# FUZZTIME_INJECT inputs, about 12 s), FuzzQuickParse (the quick YAML
# reader against yaml.v3 on mutated testdata documents, FUZZTIME_QUICK
# inputs, about 30 s) and FuzzStructure (mutated node trees of the golden
# inputs through inject, -p, a config, --set, uninject and KRM mode,
# FUZZTIME_STRUCTURE inputs, about a minute).
fuzz:
	$(GO) test ./transform/ -run '^$$' -fuzz '^FuzzQuickParse$$' -fuzztime $(FUZZTIME_QUICK)
	$(GO) test ./transform/ -run '^$$' -fuzz '^FuzzInject$$' -fuzztime $(FUZZTIME_INJECT)
	$(GO) test ./internal/fuzz/ -run '^$$' -fuzz '^FuzzStructure$$' -fuzztime $(FUZZTIME_STRUCTURE)

# Hours of structure-aware fuzzing (FUZZLONG, default 1h); findings are
# written to internal/fuzz/testdata/fuzz/ and become golden error cases.
FUZZLONG ?= 1h
fuzz-long:
	$(GO) test ./internal/fuzz/ -run '^$$' -fuzz '^FuzzStructure$$' -fuzztime $(FUZZLONG)

# Regenerate golden files.
golden:
	UPDATE_GOLDEN=1 $(GO) test ./...

# Real-component suite: kube-apiserver + etcd, haproxy, promtool, kustomize, kpt.
e2e: build
	scripts/deps.sh all
	cd e2e && SIDECARIZE_BIN=$${SIDECARIZE_BIN:-$(CURDIR)/$(BIN)} $(GO) test -count=1 -timeout 30m ./...

# The release build without publishing (six cross builds; .ci/run runs it
# last): goreleaser v2.15.1 (built from the Go module proxy once) checks
# .goreleaser.yaml, builds linux/darwin/windows ×
# amd64/arm64 archives, checksums and the krew manifest into dist/release/, and
# TestReleaseSnapshot verifies them (binary formats, sums, the krew manifest,
# this platform's binary as `kubectl sidecarize`, installed with krew).
GORELEASER_VERSION ?= v2.15.1
GORELEASER ?= $(HOME)/.cache/sidecarize/goreleaser-$(GORELEASER_VERSION)/goreleaser
$(GORELEASER):
	GOBIN=$(dir $(GORELEASER)) $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

# krew v0.4.3 (built once from the Go module proxy) installs the plugin from
# the snapshot's krew manifest and archive; kubectl: the e2e tools' build
# (scripts/deps.sh), else the one on PATH.
KREW_VERSION ?= v0.4.3
KREW ?= $(HOME)/.cache/sidecarize/krew-$(KREW_VERSION)/krew
$(KREW):
	GOBIN=$(dir $(KREW)) $(GO) install sigs.k8s.io/krew/cmd/krew@$(KREW_VERSION)
KUBECTL_BIN ?= $(firstword $(wildcard $(HOME)/.cache/sidecarize/bin/kubectl-v*) $(shell command -v kubectl))

# It builds the committed HEAD, from a clone (whose origin remote gives
# goreleaser the git state it stamps: commit and date).
release-snapshot: $(GORELEASER) $(KREW)
	rm -rf .cache/release dist/release
	git clone --quiet . .cache/release
	cd .cache/release && $(GORELEASER) check && $(GORELEASER) release --snapshot --clean
	mkdir -p dist && mv .cache/release/dist dist/release
	SIDECARIZE_RELEASE_DIST=$(CURDIR)/dist/release KREW_BIN=$(KREW) KUBECTL_BIN=$(KUBECTL_BIN) $(GO) test ./cli -run TestReleaseSnapshot -count=1 -v

# The peer row's kustomize is built from the Go module proxy (cached).
bench:
	scripts/e2e/build-tools.sh kustomize
	$(GO) build -o $(BIN) ./cmd/sidecarize
	SIDECARIZE_BIN=$(CURDIR)/$(BIN) $(GO) run ./bench

demo: build
	$(MAKE) -C demo demo

# The Helm 4 post-renderer plugin: the host's binary into helm/sidecarize/bin
# (then `helm plugin install ./helm/sidecarize`), or the release archive with
# all six OS/arch binaries (dist/helm-sidecarize-<version>.tgz).
helm-plugin:
	scripts/helm-plugin.sh host
helm-plugin-archive:
	scripts/helm-plugin.sh archive

# The container image (KRM function, Argo CD plugin, CI), built without a
# container daemon: static binaries for linux/amd64 and linux/arm64, nonroot,
# entrypoint `sidecarize fn`, as an OCI layout (dist/image) and its tarball
# (dist/image.tar). IMAGE_PLATFORMS narrows it; VERSION stamps it.
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
image:
	cd hack/image && $(GO) run . -repo ../.. -out ../../dist/image -platforms $(IMAGE_PLATFORMS) $(if $(VERSION),-version $(VERSION))

clean:
	rm -rf bin .cache dist helm/sidecarize/bin
