# Two commands do everything on a fresh machine with python3 and make:
#   make run   - create .venv, install, launch peak-tui on the embedded default workspace
#   make test  - create .venv, install, start the services the tests need, run the suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv bench lint clean system-deps bytecode

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

# PYTHONDONTWRITEBYTECODE=1 is common (it is set machine-wide here): without .pyc files every start
# compiles Textual and peak-tui again (~0.5 s of the app's start-up, measured by bench/bench_tui.py).
# uv byte-compiles the installed packages; this does our own (editable) sources, changed files only.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 peak_tui screens

venv: $(STAMP)

run: $(STAMP) bytecode
	$(BIN)/peak-tui demo

# The suite starts its own services (demo API, moto S3, a throwaway PostgreSQL cluster, fakesnow,
# aiosmtpd, tmux for the end-to-end test); this makes sure the system binaries they need exist.
system-deps:
	@sh tests/system_deps.sh

test: $(STAMP) bytecode system-deps
	$(BIN)/python -m pytest -n 2 -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check peak_tui screens tests bench
	$(BIN)/mypy peak_tui screens

clean:
	rm -rf $(VENV)
