# sidecarize — the two commands: `make demo` and `make test`.
GO ?= go
FUZZTIME ?= 20s
export GOTOOLCHAIN ?= local
BIN := bin/sidecarize

.PHONY: all build test e2e bench fuzz demo golden clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/sidecarize

# Unit, golden (each run twice for idempotency), testscript CLI tests, and
# haproxy -c on every generated haproxy.cfg (scripts/deps.sh installs haproxy).
test:
	scripts/deps.sh haproxy
	$(GO) vet ./...
	$(GO) test ./...

# Short fuzz run over the inject path.
fuzz:
	$(GO) test ./transform/... -run '^$$' -fuzz FuzzInject -fuzztime $(FUZZTIME)

# Regenerate golden files.
golden:
	UPDATE_GOLDEN=1 $(GO) test ./...

# Real-component suite: kube-apiserver + etcd, haproxy, promtool, kustomize, kpt.
e2e: build
	scripts/deps.sh all
	cd e2e && SIDECARIZE_BIN=$${SIDECARIZE_BIN:-$(CURDIR)/$(BIN)} $(GO) test -count=1 -timeout 30m ./...

bench:
	$(GO) build -o $(BIN) ./cmd/sidecarize
	SIDECARIZE_BIN=$(CURDIR)/$(BIN) $(GO) run ./bench

demo: build
	$(MAKE) -C demo demo

clean:
	rm -rf bin .cache
