# The commands README and CI use.
.PHONY: run test lint fmt bench services build

CARGO ?= cargo

services:
	./scripts/ensure-services.sh

build:
	$(CARGO) build --bin opendata

run: services build
	./scripts/run.sh

test: services build
	./scripts/drop-test-databases.sh
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

bench: services
	$(CARGO) build --release --bin opendata
	$(CARGO) bench -p opendata-tests --bench ingest --bench query
