# lda4rec — `make book` and `make test` set everything up themselves.
#
#   make install   create .venv (if missing or stale) and install lda4rec + book/test deps
#   make test      run the test suite (unit, property, notebooks with tiny parameters)
#   make book      execute every notebook and render the website into _build/html
#   make bench     install the benchmark extras (implicit) and print the benchmark tables
#   make clean     remove build outputs (keeps .venv; `make distclean` removes it too)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp

# Datasets: ../shared/data beside the checkout wins when present, unless the
# caller already set LDA4REC_DATA.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
LDA4REC_DATA ?= $(SHARED_DATA)
export LDA4REC_DATA
endif
export JAX_PLATFORMS ?= cpu
export PYTHONUNBUFFERED := 1

.PHONY: install test book bench clean distclean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lda4rec needs Python >= 3.11; found " + sys.version.split()[0] + " (set PYTHON=python3.11 or newer)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[book,test]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

book: $(STAMP)
	rm -rf _build/html _build/.jupyter_cache
	$(VENV)/bin/jupyter-book build . --keep-going
	@errs=$$(find _build/html/reports -name '*.err.log' 2>/dev/null); \
	if [ -n "$$errs" ]; then echo "A notebook failed to execute:"; cat $$errs; exit 1; fi
	@echo "Book written to _build/html/index.html"

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -c constraints.txt -e '.[bench,hdf5]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf _build .pytest_cache .hypothesis notebooks/*.ipynb
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
