# The two commands a fresh machine needs: `make serve` (iris example end to end) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint bench bench-torch

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,torch]'
	touch $(STAMP)

install: $(STAMP)

# Train the iris classifier, save it to the model store, serve it on http://127.0.0.1:3000.
serve: install
	cd examples/iris && ../../$(BIN)/python train.py && exec ../../$(BIN)/bentoml serve service:svc --port 3000

# ruff, then the import contracts (layers, no circles) and the type checker, all from pyproject.toml
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# pytest exits 5 when it collects nothing: that is a broken suite here, so it fails loudly.
test: lint
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; exit 1; fi; \
	exit $$status

# Iris classify against a raw in-process Starlette app, same run; writes docs/benchmarks.md.
# Its own venv holds what a deployment holds (the package, not the test tools: pyarrow alone
# adds ~85 MiB to every process that imports pandas), plus the harness's httpx and psutil.
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e . httpx psutil
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python tests/benchmarks/bench_iris.py

# The PyTorch example with batching on and off, and a 16 MiB tensor through a runner call;
# writes its section of docs/benchmarks.md. The bench venv plus the torch extra.
bench-torch: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[torch]'
	$(BENCH_VENV)/bin/python tests/benchmarks/bench_torch.py
