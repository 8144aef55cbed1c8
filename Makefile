# gobridge — top-level build.
#
#   make          build mod_gobridge.so, gobridged and the example plugins
#   make demo     install what is missing, build, run httpd with the demo config
#   make test     install what is missing, build, run every test
#   make bench    measure gobridge against the alternatives (bench/README.md)
#   make docker-test  build docker/Dockerfile with podman and check the container
#   make install  install the module (apxs), gobridged and Debian's
#                 mods-available/gobridge.{load,conf}
#   make generate regenerate the committed protobuf code (needs protoc tools)

PREFIX     ?= /usr/local
LIBEXECDIR ?= $(PREFIX)/libexec/gobridge
APXS       ?= apxs
GO         ?= go
PORT       ?= 8080
BIN        := build/bin
DESTDIR    ?=

export PATH := $(PATH):/usr/local/go/bin

.PHONY: all deps module daemon plugins python demo test test-go test-c test-e2e \
        bench bench-quick install generate clean docker-test

# The Python example is not installed: `make install` needs no Python.
all: module daemon plugins python

deps:
	@scripts/install-deps.sh

module:
	$(MAKE) -C mod_gobridge APXS=$(APXS) GB_DEFAULT_DAEMON=$(LIBEXECDIR)/gobridged

daemon:
	$(GO) build -o $(BIN)/gobridged ./cmd/gobridged

plugins:
	$(GO) build -o $(BIN)/hello ./examples/hello
	$(GO) build -o $(BIN)/headers ./examples/headers
	$(GO) build -o $(BIN)/app ./examples/nethttp
	$(GO) build -o $(BIN)/gobridge-auth ./cmd/gobridge-auth
	$(GO) build -o $(BIN)/jwtmint ./examples/jwtmint
	$(GO) build -o $(BIN)/gzipfilter ./examples/gzipfilter

# The Python example's modules, generated from proto/ on every build
# (examples/python/README.md).
python:
	examples/python/generate.sh build/python

demo: deps all
	PORT=$(PORT) scripts/demo.sh

test: deps all test-go test-c test-e2e

# The libraries plugins import must also build where their authors work.
test-go:
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./sdk/... ./auth/...
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v '/tests$$')

test-c:
	$(MAKE) -C mod_gobridge check

# CI must never pass by skipping: a missing httpd fails the run.
test-e2e:
	GOBRIDGE_REQUIRE_HTTPD=1 $(GO) test -count=1 -timeout 25m -v ./tests/ 2>&1 | \
	    scripts/summarize-go-test.sh

# Benchmarks against the alternatives (bench/README.md). Speed is measured
# here, never asserted in tests.
bench: deps all
	bench/run.sh

bench-quick: deps all
	BENCH_QUICK=1 bench/run.sh

# The container image (docker/): built with podman on a bookworm base made
# with mmdebstrap, run and checked over HTTP (docker/test.sh). Not part of
# `make test`: a cold run fetches a Debian base and a Go toolchain.
docker-test:
	docker/test.sh

install: module daemon plugins
	$(MAKE) -C mod_gobridge install APXS=$(APXS)
	install -d $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(BIN)/gobridged $(DESTDIR)$(LIBEXECDIR)/gobridged
	@if [ -d $(DESTDIR)/etc/apache2/mods-available ]; then \
	    sed 's|@MODULE_DIR@|$(shell $(APXS) -q LIBEXECDIR)|' mod_gobridge/gobridge.load \
	        > $(DESTDIR)/etc/apache2/mods-available/gobridge.load; \
	    sed 's|@LIBEXECDIR@|$(LIBEXECDIR)|' mod_gobridge/gobridge.conf \
	        > $(DESTDIR)/etc/apache2/mods-available/gobridge.conf; \
	    echo "installed mods-available/gobridge.{load,conf}: run 'a2enmod gobridge'"; \
	fi

generate:
	$(MAKE) -C proto generate

clean:
	rm -rf build
	$(MAKE) -C mod_gobridge clean
