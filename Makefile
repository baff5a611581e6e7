# Quick start: `make demo` (set up, then solve the shipped example) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# an editable install leaves the package uncompiled, and where PYTHONDONTWRITEBYTECODE is set
	# every command would compile its modules again (0.2 s a command): compile them once
	$(BIN)/python -m compileall -q optimizer
	touch $(STAMP)

demo: setup
	$(BIN)/relocate solve inputs/scenarios/pact-2024-families.toml --out outputs/demo --force

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) outputs/demo
