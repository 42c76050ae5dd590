# Fogline — see README.md. `make test` and `make demo` work on a fresh Debian 12 machine with
# only the Swift toolchain: they install the Debian packages they need when missing.

SWIFT ?= swift
SHELL := /bin/bash
# Debian packages the build and the tests need (libmosquitto for CMosquitto, the broker and
# its clients for integration tests, tmux for the dashboard's).
DEB_PACKAGES := libmosquitto-dev zlib1g-dev mosquitto mosquitto-clients tmux
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build test chaos soak deps demo demo-offline demo-online bench bench-micro bench-core bench-store bench-ingest bench-quorum bench-reconcile proto clean

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

# Builds everything (including the benchmarks, so they cannot rot) and runs every test target.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) build --product CoreBenchmarks
	@# Swift Testing prints a line per started/passed case; keep failures, issues and the summary.
	set -o pipefail; $(SWIFT) test --parallel 2>&1 | grep -vE '^(◇|✔) Test case passing|^◇ (Test|Suite) .* started\.$$'

# The real-process quorum fault test for longer (FOGLINE_CHAOS_SECONDS, default 300): prints
# `N ops, K faults, A anomalies`.
chaos: deps
	scripts/chaos

# The whole-site simulations with twenty times the seeds of `make test` (about 40,000 runs).
soak: deps
	$(SWIFT) build --build-tests
	FOGLINE_SEED_SCALE=$${FOGLINE_SEED_SCALE:-20} $(SWIFT) test --skip-build --parallel --filter FoglineSiteSimulationTests

# The whole system on this machine: a site broker, three edge nodes, 100 simulated devices, a
# cloud broker and the aggregator; Ctrl-C stops it.
demo: deps
	@command -v curl >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq curl; }
	scripts/demo

# Cut and restore the running demo's uplink (its cloud broker).
demo-offline:
	scripts/demo-uplink offline

demo-online:
	scripts/demo-uplink online

# package-benchmark micro benchmarks, the end-to-end CRDT comparison with pycrdt and loro, the
# store's commit throughput, the edge's end-to-end ingest and the quorum beside etcd.
bench: bench-micro bench-core bench-store bench-ingest bench-quorum bench-reconcile

bench-micro: deps
	$(SWIFT) package --allow-writing-to-package-directory benchmark --target CoreBenchmarks

bench-core: deps
	scripts/bench-core

# SQLite commit throughput of FoglineStore (release build).
bench-store: deps
	$(SWIFT) run -c release fogline-bench-store

# fogline-edge end to end (release, own Mosquitto): durable ingest/s beside mosquitto_sub on the
# same broker, then RSS, CPU and disk bytes per reading at 1,000 devices × 1 Hz.
bench-ingest: deps
	scripts/bench-ingest

# Three fogline-edge nodes beside a three-member etcd (installed when missing), same clients: CAS/s
# and p50/p99 with 1 and 16 clients, lease acquire→release latency, RSS per member.
bench-quorum: deps
	scripts/bench-quorum

# The uplink cut while 1,000 devices publish 600 readings each, then restored: converge_s and the
# bytes the edge sent beside the devices' raw JSON, the whole state and exactly the changed state.
bench-reconcile: deps
	scripts/bench-reconcile

# Regenerates Sources/FoglineWire/Generated from the .proto schema.
proto:
	@command -v protoc >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq protobuf-compiler; }
	scripts/gen-proto

clean:
	rm -rf .build .build-*
