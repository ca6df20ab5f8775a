# One command sets everything up: each target creates .venv and installs what it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test lint docs browser clean

# gradcheck itself (NumPy and rich): all that `make demo` needs, so the first command is quick.
$(VENV)/.base: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

# Everything the tests use.
$(VENV)/.installed: $(VENV)/.base
	# torch first and pinned: anything looser pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,jax,dask,html]"
	touch $@

# The documentation site's tools only (MkDocs, Material, mkdocstrings): no framework needed.
$(VENV)/.docs: $(VENV)/.base
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

demo: $(VENV)/.base
	$(VENV)/bin/gradcheck demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy src

# The site in site/, every warning an error: a broken link or a stale reference fails.
# NO_MKDOCS_2_WARNING silences Material's notice of its own end of life (May 2027).
docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# The HTML report's browser test drives Debian's chromium and chromium-driver: as root (CI)
# they are installed when missing, and the test may then not skip; otherwise it skips, saying why.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
		else \
			echo "chromium or chromedriver missing and not root: the browser test will be skipped"; \
		fi; \
	fi

test: $(VENV)/.installed lint browser
	GRADCHECK_REQUIRE_BROWSER=$$([ "$$(id -u)" = 0 ] && echo 1) $(PY) -m pytest tests src/gradcheck

clean:
	rm -rf $(VENV) site
