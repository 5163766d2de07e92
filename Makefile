# The two commands a fresh machine needs: `make serve` (iris example end to end) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint bench bench-bulk bench-torch grpc-stubs bench-grpc bench-compose bench-triton

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,torch,grpc,triton]'
	# the Triton tests' server (tests/support/triton.py): the tritonserver inside the
	# nvidia-pytriton wheel (manylinux x86_64 only: elsewhere those tests skip), and a Python
	# environment for its python-backend models, whose stub is built against numpy 1
	$(BIN)/python -m pip install --quiet --upgrade --no-deps --target $(VENV)/pytriton \
		nvidia-pytriton==0.7.0 || echo "nvidia-pytriton does not install here: Triton tests skip"
	$(PYTHON) -m venv $(VENV)/triton-models
	$(VENV)/triton-models/bin/python -m pip install --quiet 'numpy<2'
	# protobuf 7 apart, for the test that runs the gRPC stubs under the current major while the
	# venv holds 6 (tritonclient asks for < 7)
	$(BIN)/python -m pip install --quiet --upgrade --no-deps --target $(VENV)/protobuf7 'protobuf>=7,<8'
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
# Two pytest-xdist workers, one test file at a time each: the suite mostly waits (servers
# starting, timeouts and sleeps it tests), so two files at once take about 0.55x the time of one
# after the other on two CPUs (docs/architecture.md). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: lint
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: the suite is broken" >&2; exit 1; fi; \
	exit $$status

# Iris classify against a raw in-process Starlette app, same run; writes docs/benchmarks.md.
# Its own venv holds what users' deployments hold: the package with pyarrow and torch (pandas 3
# imports pyarrow whenever it is installed, ~85 MiB in every process that imports pandas, and
# torch is what a process must not import by accident), plus the harness's httpx and psutil,
# not the test tools. bench_memory.py: the PSS of each process of the tree, same venv.
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[torch]' pyarrow httpx psutil orjson
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python tests/benchmarks/bench_iris.py
	$(BENCH_VENV)/bin/python tests/benchmarks/bench_memory.py

# Bulk payloads (1,000- and 10,000-row frames as JSON, CSV and parquet; a 100x784 ndarray) against
# a hand-written raw app (stdlib json) and the same app with orjson (the limit), same run; writes
# its own section of docs/benchmarks.md. Same venv as above (pyarrow reads the parquet bodies);
# orjson is what the limit app parses and renders with.
bench-bulk: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python tests/benchmarks/bench_bulk.py $(BENCH_BULK_ARGS)

# The PyTorch example with batching on and off, and a 16 MiB tensor through a runner call;
# writes its section of docs/benchmarks.md. Same venv (it has the torch extra).
bench-torch: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python tests/benchmarks/bench_torch.py $(BENCH_TORCH_ARGS)

# The gRPC stubs in bentoml_classic/grpc/v1/ from its service.proto (grpcio-tools, pinned in the
# test extra); tests/unit/grpc/test_stubs.py fails when the committed ones differ.
grpc-stubs: install
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. \
		bentoml_classic/grpc/v1/service.proto

# Iris classify over gRPC against the same service over HTTP, same run, one load generator
# (bench_grpc.py's); writes its section of docs/benchmarks.md. Needs the grpc extra.
bench-grpc: install
	$(BIN)/python tests/benchmarks/bench_grpc.py $(BENCH_GRPC_ARGS)

# The iris model behind one dependency hop (entry -> model service -> runner) against the single
# service, same run; writes its section of docs/benchmarks.md. Same venv.
bench-compose: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python tests/benchmarks/bench_composition.py $(BENCH_COMPOSE_ARGS)

# The Triton example's numpy model behind a Triton runner and behind our batching runner, c=1 and
# c=64, same run; writes its section of docs/benchmarks.md. The test venv: it has the [triton]
# extra and the tests' tritonserver (.venv/pytriton).
bench-triton: install
	$(BIN)/python tests/benchmarks/bench_triton.py $(BENCH_TRITON_ARGS)
