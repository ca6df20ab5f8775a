# One command sets everything up: each target creates .venv and installs what it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test lint clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: anything looser pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,jax,dask,html]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/gradcheck demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy src

test: $(VENV)/.installed lint
	$(PY) -m pytest tests src/gradcheck

clean:
	rm -rf $(VENV)
