# tlspipe — two commands work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo bench lint typecheck deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Debian packages the interop tests need (openssl CLI, curl); skipped when present.
deps:
	@command -v openssl >/dev/null && command -v curl >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq openssl curl >/dev/null; }

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks)

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src

test: $(STAMP) deps lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider

demo: $(STAMP)
	$(PY) -m tlspipe demo

# tlspipe vs ssl vs the crypto ceiling (a few minutes); e.g. BENCH_ARGS="--quick" or
# BENCH_ARGS="--json bench.json --only bulk".  Needs nothing beyond the package's own deps.
bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
