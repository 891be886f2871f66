# Two commands on a fresh machine with Python 3.11: `make run` (the main job) and `make test`.
# Both create or reuse .venv and install what they need first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU wheel of torch 2.13.0 first, where the machine has it, so pip never pulls a CUDA build.
TORCH  := torch==2.13.0
TSFM   := granite-tsfm==0.3.11 datasets deprecated wrapt einops dill multiprocess xxhash
# tsb-ad (the peer the VUS and range detection metrics are checked against) pins numpy<2: no pins either
PEERS  := tsb-ad==1.5

.PHONY: run run-full reproduce-ltsf test test-fast test-slow lint bench clean clean-kernels toto-env docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev,foundation]"
# granite-tsfm (the ttm adapter) pins torch<2.12: installed without its pins, with what it imports
	$(BIN)/pip install -q --no-deps $(TSFM)
	$(BIN)/pip install -q --no-deps $(PEERS)
# headless Chromium for the browser tests and PNG export (Playwright drives the system's browser);
# only where none is installed and apt-get exists; without it those tests skip with the reason
	@if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -q && apt-get install -y -q chromium || echo "chromium not installed: browser tests will skip"; \
	fi
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/workbench reproduce m4

run-full: $(STAMP)
	$(BIN)/workbench reproduce m4 --full

reproduce-ltsf: $(STAMP)  # LTSF-Linear Table 2; resumable: rerun after an interruption
	$(BIN)/workbench reproduce ltsf_linear --full

# toto-ts pins torch 2.7, numpy 1.26 and pandas 2.2: it gets an environment of its own that sees the
# main one's packages and adds toto-ts and its inference-time modules without their pins.
TOTO_VENV  := .venv-toto
TOTO_STAMP := $(TOTO_VENV)/.installed
TOTO_PKGS  := toto-ts==0.2.0 jaxtyping wadler-lindig rotary-embedding-torch gluonts==0.16.2 lightning

$(TOTO_STAMP): $(STAMP)
	$(PYTHON) -m venv $(TOTO_VENV)
	echo "import site; site.addsitedir('$(CURDIR)/$(VENV)/lib/python3.11/site-packages')" \
		> $(TOTO_VENV)/lib/python3.11/site-packages/zz_workbench_main.pth
	$(TOTO_VENV)/bin/pip install -q --no-deps $(TOTO_PKGS)
	touch $(TOTO_STAMP)

toto-env: $(TOTO_STAMP)

# Everything: what CI runs (.ci/run), in one process. (Running the fast tier on xdist workers first and
# the slow tier after was measured slower: 1,055 s against 950 s, probably because the slow tier then
# starts without the caches the fast tests warm in this process.)
test: $(STAMP) $(TOTO_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest

# The inner loop: every test that starts no cluster, kernel, CLI subprocess, browser, package build or
# foundation checkpoint (the kind markers, tests/conftest.py), on two xdist workers. Each worker runs
# the session fixtures once (its own cache); a module's tests stay on one worker (loadscope), so its
# module fixtures run once.
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -n 2 --dist loadscope -q --durations=15

# The rest, in one process: the shared cluster and the session reproductions start once.
test-slow: $(STAMP) $(TOTO_STAMP)
	$(BIN)/pytest -m slow

# The documentation site into site/ (mkdocs.yml): --strict, so a broken link or reference stops it; the
# tutorials (docs/tutorials/*.ipynb) execute during the build. `make test` builds it too, into a temporary
# folder, and opens it in Chromium (tests/docs/test_site.py).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/m4_suite.py

clean:
	rm -rf $(VENV) $(TOTO_VENV) .pytest_cache .ruff_cache
	$(MAKE) clean-kernels

clean-kernels:  # numba's on-disk cache of compiled kernels
	find workbench -name '*.nbi' -delete -o -name '*.nbc' -delete
