# Two commands do all set-up on a fresh machine:
#   make demo   - train/segment the phone model offline on the bundled data
#   make test   - run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv test test-fast demo notebooks bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

# Everything not marked slow (target: under 3 minutes on 2 cores); the 15
# slowest tests are listed so a test that should be marked slow shows up.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" --durations=15 tests

demo: $(STAMP)
	$(PY) -m phone demo

notebooks: $(STAMP)
	$(PY) notebooks/run_notebooks.py

bench: $(STAMP)
	$(PY) benchmarks/bench_inference.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
