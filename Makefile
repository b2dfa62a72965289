# Two commands do everything on a fresh machine with python3 and make:
#   make run   - create .venv, install, launch peak-tui on the embedded default workspace
#   make test  - create .venv, install, start the services the tests need, run the suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv bench lint clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/peak-tui demo

# The suite starts its own services (demo API, moto S3, a throwaway PostgreSQL cluster, fakesnow,
# aiosmtpd, tmux for the end-to-end test); this makes sure the system binaries they need exist.
system-deps:
	@sh tests/system_deps.sh

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -n 2 -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check peak_tui screens tests bench

clean:
	rm -rf $(VENV)
