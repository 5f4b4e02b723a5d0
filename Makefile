# Tributary: the front door. `make` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
PYTHON      := $(VENV)/bin/python
FUNCTIONS   := $(notdir $(wildcard functions/*))
BENCH_SIZES ?= 100,1000
# The telemetry shape also runs at this size (tributary and polars only): peak RSS should stay flat.
BENCH_LARGE ?= 5000
# Left out to keep `make bench` under ~25 minutes on 2 cores (SHAPES:SIZES:TOOLS); empty: every tool everywhere.
BENCH_SKIP ?= orders_text,telemetry,narrow:1000:pandas,pyarrow
# Another tributary binary to compare outputs with (e.g. bench-data/reference/tributary-0dd5e5f); empty: no check.
BENCH_REFERENCE ?=
# Rounds of tributary against polars back to back on each shape's 1000 MB file (scripts/bench_repeat.py).
BENCH_ROUNDS ?= 3
# Rounds of the same with tributary writing zstd, polars' codec: the same codec on both sides, and the sizes (0: none).
BENCH_ZSTD_ROUNDS ?= 1
TF_DIR      := infra/terraform
# The machine's local mirror of the AWS provider (terraform init -plugin-dir); empty: init from the registry.
TF_PLUGIN_DIR ?= /opt/tf-plugins
# Tools installed into the project virtualenv (cargo-lambda, zig, moto_server) come first on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help check test demo-unit build package demo bench tf-check clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# --- project-local tools, installed when missing ------------------------------------------------------------
$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.test-deps: requirements/test.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

$(VENV)/.lambda-deps: requirements/lambda.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

$(VENV)/.bench-deps: requirements/bench.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

# checkov gets its own virtualenv: it pins boto3/botocore/networkx versions that would downgrade moto's in .venv.
$(VENV)/infra/.deps: requirements/infra.txt
	python3 -m venv $(VENV)/infra
	$(VENV)/infra/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

infra/node_modules/.deps: infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# --- targets ---------------------------------------------------------------------------------------------------
check: ## Formatting and lints (cargo fmt --check, clippy -D warnings)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

test: check demo-unit $(VENV)/.test-deps $(VENV)/.lambda-deps infra/node_modules/.deps ## Checks, then unit, handler and integration tests, the demo included
	cargo test --workspace --all-features

demo-unit: | $(VENV)/bin/python ## The demo's own unit tests (scripts/demo/test_*.py: its AWS emulation)
	$(PYTHON) -m unittest discover -s scripts/demo -p 'test_*.py'

build: ## Debug build of every crate
	cargo build --workspace

package: $(VENV)/.lambda-deps ## arm64 Lambda zips: target/lambda/<function>/bootstrap.zip (reproducible)
	cargo lambda build --release --arm64 --output-format zip $(addprefix --bin ,$(FUNCTIONS))
	$(PYTHON) scripts/reproducible_zip.py $(foreach f,$(FUNCTIONS),target/lambda/$(f)/bootstrap.zip)

# DEMO_ARGS=--stay keeps the stack running after the report, for `cargo lambda invoke` by hand.
demo: $(VENV)/.test-deps $(VENV)/.lambda-deps infra/node_modules/.deps ## The whole pipeline locally: moto, PostgreSQL, terraform, state machine, every function
	$(PYTHON) scripts/demo $(DEMO_ARGS)

bench: $(VENV)/.bench-deps $(VENV)/.test-deps ## convert vs pandas/pyarrow/DuckDB/polars (4 data shapes, BENCH_SIZES MB); normalize vs Python; load vs INSERTs; a burst of files; ranged S3 reads
	cargo build --release -p tributary-cli
	$(PYTHON) scripts/bench.py --tributary target/release/tributary --sizes $(BENCH_SIZES) --shape-sizes telemetry=$(BENCH_SIZES),$(BENCH_LARGE) --large-mb $(BENCH_LARGE) $(if $(BENCH_SKIP),--skip $(BENCH_SKIP)) $(if $(BENCH_REFERENCE),--reference-binary $(BENCH_REFERENCE)) --data-dir bench-data --out bench-results.md
	$(PYTHON) scripts/bench_repeat.py --tributary target/release/tributary --size-mb 1000 --rounds $(BENCH_ROUNDS) --out bench-results.md
	$(if $(filter-out 0,$(BENCH_ZSTD_ROUNDS)),$(PYTHON) scripts/bench_repeat.py --tributary target/release/tributary --size-mb 1000 --rounds $(BENCH_ZSTD_ROUNDS) --compression zstd --out bench-results.md)
	cargo build --release -p kinesis-normalizer --example lambda_read
	$(PYTHON) scripts/bench_normalize.py --tributary target/release/tributary --lambda-read target/release/examples/lambda_read $(if $(BENCH_REFERENCE),--reference-binary $(BENCH_REFERENCE)) --out bench-results.md
	$(PYTHON) scripts/bench_load.py --tributary target/release/tributary --out bench-results.md
	$(PYTHON) scripts/bench_burst.py --tributary target/release/tributary --out bench-results.md
	BENCH_OUT=$(CURDIR)/bench-results.md cargo test --release -p csv-to-parquet --all-features --test s3_pipeline bench_parallel_ranged_reads -- --ignored
	$(PYTHON) scripts/bench_charts.py --results bench-results.md --out docs/bench

tf-check: $(VENV)/infra/.deps infra/node_modules/.deps ## Terraform offline: fmt, init (local provider mirror), validate, checkov, ASL validation
	@command -v terraform >/dev/null || { echo "tf-check: terraform not found on PATH (Terraform >= 1.9 is needed)" >&2; exit 1; }
	TF_IN_AUTOMATION=1 terraform -chdir=$(TF_DIR) fmt -check -recursive -diff
	TF_IN_AUTOMATION=1 terraform -chdir=$(TF_DIR) init -backend=false -input=false $(if $(TF_PLUGIN_DIR),-plugin-dir=$(abspath $(TF_PLUGIN_DIR)))
	TF_IN_AUTOMATION=1 terraform -chdir=$(TF_DIR) validate
	$(VENV)/infra/bin/checkov --skip-download --quiet --compact -d $(TF_DIR)
	infra/node_modules/.bin/asl-validator --json-path $(TF_DIR)/statemachine/csv_pipeline.asl.json --json-path $(TF_DIR)/statemachine/orders.asl.json --json-path $(TF_DIR)/statemachine/backfill.asl.json

clean: ## Remove build output, bench data and the virtualenv
	cargo clean
	rm -rf $(VENV) bench-data bench-results.md infra/node_modules $(TF_DIR)/.terraform $(TF_DIR)/.terraform.lock.hcl
