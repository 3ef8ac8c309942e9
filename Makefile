# soundstage: two commands on a fresh Debian 12 machine - `make demo` and `make test`.
# Everything they need is installed from here (system packages via apt when run as root,
# Python packages into .venv pinned by constraints.txt).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed
DEMO_DIR ?= demo-output
PYTEST_ARGS ?=

.PHONY: help install sysdeps lint test test-fast demo bench clean lock

help:
	@echo "make demo   - set up and run the pipeline on the bundled sample production"
	@echo "make test   - set up and run the whole test suite (PostgreSQL included when available)"
	@echo "make bench  - run every benchmark in bench/ (minutes; results belong in docs/benchmarks.md)"

sysdeps:
	@bash scripts/sysdeps.sh

$(STAMP): pyproject.toml constraints.txt requirements/nodeps.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (run 'make sysdeps' as root)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip install -q --no-deps -r requirements/nodeps.txt
	touch $(STAMP)

# the independent Content Credentials readers the interop tests use (c2pa-wasm under Node, ExifTool 13)
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found (run 'make sysdeps' as root)"; exit 1; }
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

install: sysdeps $(STAMP) $(NODE_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

test: install lint
	@URL="$${SOUNDSTAGE_TEST_POSTGRES_URL:-$$(bash scripts/test-postgres.sh)}"; \
	SOUNDSTAGE_TEST_POSTGRES_URL="$$URL" $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

demo: install
	$(BIN)/python -m soundstage.testing.demo $(DEMO_DIR)

bench: install
	$(BIN)/python bench/script_breakdown.py --revision
	$(BIN)/python bench/watermark.py --quick
	$(BIN)/python bench/safeguards.py
	$(BIN)/python bench/previz.py --no-animatic
	$(BIN)/python bench/vfx.py --quick
	$(BIN)/python bench/api.py
	$(BIN)/python bench/storage.py

lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^soundstage' > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache node_modules
