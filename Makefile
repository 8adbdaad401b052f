# The commands README and CI use.
.PHONY: run test lint fmt bench services build chart browser-deps

CARGO ?= cargo
# Meilisearch variants of the search tests run only when a server is named; otherwise they are
# reported as skipped.
ifneq ($(strip $(OPENDATA_TEST_MEILI_URL)),)
NEXTEST_IGNORED = --run-ignored all
TEST_IGNORED = -- --include-ignored
endif

services:
	./scripts/ensure-services.sh

build:
	$(CARGO) build --bin opendata

# Chromium and the locked npm packages of the browser tests (tests/browser/).
browser-deps:
	./scripts/browser-deps.sh

run: services build
	./scripts/run.sh

test: services build browser-deps
	./scripts/install-helm.sh
	./scripts/python-clients.sh
	./scripts/drop-test-databases.sh
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast $(NEXTEST_IGNORED); \
	else \
		$(CARGO) test --workspace --no-fail-fast $(TEST_IGNORED); \
	fi

# The Helm chart: strict lint, render, and validation against the Kubernetes schemas.
chart: build
	./scripts/check-chart.sh

# Also proves the committed query cache (.sqlx/) current against the migrations, which needs
# PostgreSQL; `./scripts/sqlx-prepare.sh` refreshes it after a query or a migration changes.
lint: services
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	./scripts/unused-deps.sh
	./scripts/sqlx-prepare.sh --check

fmt:
	$(CARGO) fmt --all

bench: services
	$(CARGO) build --release --bin opendata
	$(CARGO) bench -p opendata-tests --bench ingest --bench query --bench search --bench incentives --bench load --bench pages --bench versions
