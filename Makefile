# Two commands do all the set-up on a fresh machine:
#   make run   - create .venv if missing, install requirements.txt, start the app
#   make test  - create .venv if missing, install requirements-dev.txt, run ruff and pytest
# torch is pinned to 2.13.0 (CPU wheel); see requirements.txt.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(PY) -m streamlit run app.py --server.port $(PORT)

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/factorize.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
