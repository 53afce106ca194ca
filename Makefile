# Two commands do all set-up on a fresh machine:
#   make demo   - train/segment the phone model offline on the bundled data
#   make test   - run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv test test-fast demo notebooks bench docs pictures clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt setup.py pyproject.toml package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the package, editable, and its dependencies (pyproject.toml: the dev extra)
	$(PY) -m pip install -q -r requirements-dev.txt
	# albumentations pulls in opencv-python-headless; it and opencv-python
	# both own cv2/. Keep only opencv-python (GUI build: imgaug requires it,
	# the realtime window needs it): drop headless, then restore cv2/.
	$(PY) -m pip uninstall -q -y opencv-python-headless
	$(PY) -m pip install -q --force-reinstall --no-deps \
	    "opencv-python==$$($(PY) -c 'import importlib.metadata as m; print(m.version("opencv-python"))')"
	# the GUI build links libGL and glib: install them where missing (root + apt)
	$(PY) -c "import cv2" 2>/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgl1 libglib2.0-0; }
	$(PY) -c "import cv2" || { echo "import cv2 fails: install libGL and glib (e.g. apt-get install libgl1 libglib2.0-0)"; exit 1; }
	# imgaug 0.4 under NumPy 2: start-up hook restoring np.sctypes when
	# imgaug is imported (README, "Coming from Matterport"; off: MRCNN_IMGAUG_COMPAT=0)
	$(PY) -m mrcnn_imgaug_compat install
	# the phone serve page's onnxruntime-web (package-lock.json): npm ci, then the
	# files the page loads into phone/web/vendor/ (setup.py does it for wheels)
	$(PY) phone/web/assets.py
	touch $(STAMP)

# pytest-xdist: one process per core (at most 4; WORKERS=0 runs all in this process), whole
# modules per worker (--dist loadfile) so a module's fixtures (a trained
# model, an export, a Ray cluster) are built once. A single process keeps
# about one of two cores busy: most of a test is graph tracing and
# subprocess start-up, not math.
WORKERS ?= auto

test: $(STAMP)
	$(PY) -m pytest -q -n $(WORKERS) --maxprocesses 4 --dist loadfile --durations=15 tests

# Everything not marked slow (target: under 3 minutes on 2 cores); the 15
# slowest tests are listed so a test that should be marked slow shows up.
test-fast: $(STAMP)
	$(PY) -m pytest -q -n $(WORKERS) --maxprocesses 4 --dist loadfile -m "not slow" --durations=15 tests

demo: $(STAMP)
	$(PY) -m phone demo

notebooks: $(STAMP)
	$(PY) notebooks/run_notebooks.py

bench: $(STAMP)
	$(PY) benchmarks/bench_inference.py

# the docs' pictures, from the shipped model (run when it changes; a test
# fails while docs/pictures.json names another model file)
pictures: $(STAMP)
	$(PY) docs/make_pictures.py

# the docs site (mkdocs.yml) into site/, warnings as errors
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache
