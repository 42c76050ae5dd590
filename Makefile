# Fogline — see README.md. `make test` and `make demo` work on a fresh Debian 12 machine with
# only the Swift toolchain: they install the Debian packages they need when missing.

SWIFT ?= swift
SHELL := /bin/bash
# Debian packages the build and the tests need (libmosquitto for CMosquitto, the broker and
# its clients for integration tests, tmux for the dashboard's, openssl for the TLS tests'
# throwaway certificates, libfaketime to boot a node in 1970).
DEB_PACKAGES := libmosquitto-dev zlib1g-dev mosquitto mosquitto-clients tmux openssl faketime
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build release test chaos soak deps demo demo-offline demo-online bench bench-micro bench-core bench-store bench-ingest bench-quorum bench-reconcile proto clean \
	fuzz fuzz-build fuzz-smoke fuzz-seeds

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

# Stripped release binaries with the Swift runtime and Foundation linked in statically, so a board
# needs no Swift toolchain (only libmosquitto1, libsqlite3-0 and zlib1g from Debian), in .build/dist;
# prints their sizes. RELEASE_PRODUCTS picks the programs; FOGLINE_BUILD_ARGS is passed to swift build
# (e.g. --swift-sdk aarch64-swift-linux-musl for a cross build, see the README).
RELEASE_PRODUCTS ?= fogline-edge fogline-cloud fogline-sim
RELEASE_DIR ?= .build/dist
# A cross build needs the target's strip, e.g. STRIP=aarch64-linux-gnu-strip (binutils-aarch64-linux-gnu).
STRIP ?= strip
# The release layout (README, "Deploy on a Raspberry Pi"), for a small resident footprint: every
# function in its own section (Swift, C and C++ alike), the functions a running fogline-edge
# executes (RELEASE_ORDER_FILE, recorded by scripts/symbol-order) placed first and together by lld,
# after the functions that have no symbol to order them by; read-only constants in a read-only
# segment (release/layout.ld); relative relocations packed (DT_RELR: glibc >= 2.36); no exported
# symbol table.
RELEASE_ORDER_FILE ?= $(CURDIR)/release/edge.order
RELEASE_LINKER_SCRIPT ?= $(CURDIR)/release/layout.ld
RELEASE_LAYOUT ?= -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections -Xcxx -ffunction-sections \
	-Xswiftc -use-ld=lld \
	-Xlinker --symbol-ordering-file=$(RELEASE_ORDER_FILE) -Xlinker --no-warn-symbol-ordering \
	-Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic \
	$(if $(RELEASE_LINKER_SCRIPT),-Xlinker -T -Xlinker $(RELEASE_LINKER_SCRIPT))
release: deps
	@command -v $(STRIP) >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq binutils; }
	mkdir -p $(RELEASE_DIR)
	@# SwiftPM does not track the order file: remove the linked programs so they are linked again.
	set -e; bin=$$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path $(RELEASE_LAYOUT) $(FOGLINE_BUILD_ARGS)); \
	for product in $(RELEASE_PRODUCTS); do \
	  rm -f $$bin/$$product; \
	  $(SWIFT) build -c release --static-swift-stdlib --product $$product $(RELEASE_LAYOUT) $(FOGLINE_BUILD_ARGS); \
	done; \
	echo "Release binaries (stripped, Swift runtime and Foundation linked statically) in $(RELEASE_DIR):"; \
	for product in $(RELEASE_PRODUCTS); do \
	  $(STRIP) -o $(RELEASE_DIR)/$$product $$bin/$$product; \
	  awk -v name=$$product -v size=$$(stat -c %s $(RELEASE_DIR)/$$product) -v full=$$(stat -c %s $$bin/$$product) \
	    'BEGIN { printf "  %-14s %6.1f MB (%.1f MB before strip)\n", name, size / 1048576, full / 1048576 }'; \
	done

# Builds everything (including the benchmarks, so they cannot rot) and runs every test target.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) build --product CoreBenchmarks
	@# Serially: on two cores, dozens of real-process tests (brokers, nodes, aggregators) run in
	@# parallel starve the timing-sensitive ones into time limits. Swift Testing prints a line
	@# per started/passed case; keep failures, issues and the summary.
	@# CI keeps only the tail of the output: on failure, repeat every failure line at the end.
	@set -o pipefail; $(SWIFT) test --no-parallel 2>&1 | grep --line-buffered -vE '^(◇|✔) Test case passing|^◇ (Test|Suite) .* started\.$$' \
	  | tee .build/test-output.log || { status=$$?; echo '=== Failures (repeated from above) ==='; \
	  grep -E -A4 '^✘|: error:|Fatal error' .build/test-output.log | head -n 300; \
	  echo '=== Failed tests ==='; grep -E '^✘ Test .* (failed|recorded an issue)' .build/test-output.log | cut -c1-400 | head -n 40; \
	  exit $$status; }
	$(MAKE) fuzz-smoke

# libFuzzer targets (Sources/fogline-fuzz): the sanitizer build lives in .build-fuzz, apart from
# the normal one. `make fuzz` runs each target FUZZ_SECONDS (default 60); `make fuzz-smoke` (part of
# `make test`) FUZZ_SMOKE_SECONDS (default 10) each. Both start from the committed corpus in
# Fuzz/corpus (left untouched): new inputs go to .build-fuzz/corpus, crashes to .build-fuzz/findings.
FUZZ_TARGETS := device-json peer-frame sync-frame config
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_BIN := .build-fuzz/debug/fogline-fuzz
define run_fuzzers
	@set -eo pipefail; mkdir -p .build-fuzz/findings; for target in $(FUZZ_TARGETS); do \
	  mkdir -p .build-fuzz/corpus/$$target; echo "fuzzing $$target for $(1) s"; \
	  SWIFT_BACKTRACE=enable=no $(FUZZ_BIN) $$target -max_total_time=$(1) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=.build-fuzz/findings/$$target- .build-fuzz/corpus/$$target Fuzz/corpus/$$target 2>&1 \
	    | grep -E '^(Done|stat::(number_of_executed_units|peak_rss_mb))|ERROR|SUMMARY|Test unit written|deadly|panicked|Fatal error' ; \
	done
endef

fuzz-build: deps
	$(SWIFT) build --scratch-path .build-fuzz --product fogline-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFOGLINE_LIBFUZZER

fuzz: fuzz-build
	$(call run_fuzzers,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(call run_fuzzers,$(FUZZ_SMOKE_SECONDS))

# Rewrites the generated seeds of Fuzz/corpus from the real encoders (after a wire format change).
fuzz-seeds: build
	.build/debug/fogline-fuzz seeds Fuzz/corpus

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
