# mlfz: `make docs` builds the site, `make test` runs every check. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# one BLAS thread while notebooks run two at a time on a two-core machine: two programs' thread
# pools competing for the cores make every matrix product 5-10 times slower
docs notebook-tests pytest: export OPENBLAS_NUM_THREADS := 1
docs notebook-tests pytest: export OMP_NUM_THREADS := 1

.PHONY: docs test preview lab export readme bench clean check-sync notebook-tests pytest system-deps

docs: $(INSTALLED) system-deps export
	$(BIN)/python tools/build_docs.py

test: $(INSTALLED) system-deps check-sync notebook-tests docs pytest
	@echo "make test: every check passed"

$(INSTALLED): setup.py settings.ini pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "mlfz needs Python 3.10 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# what pip cannot install: Graphviz's dot (pictures), Chromium (the browser check) and the
# Fashion-MNIST files of chapter 35 (Debian's dataset-fashion-mnist; no Homebrew package)
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
system-deps:
	@tools/system-deps.sh dot graphviz graphviz
	@tools/system-deps.sh chromium chromium chromium
	@tools/system-deps.sh $(FASHION_MNIST) dataset-fashion-mnist

export: $(INSTALLED)
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_sidebar --force
	$(BIN)/python tools/readme.py

readme: $(INSTALLED)
	$(BIN)/python tools/readme.py

# nbdev_export, nbdev_clean, the sidebar and the README generator must find nothing to change
check-sync: $(INSTALLED)
	@tools/check-sync.sh $(BIN)

notebook-tests: $(INSTALLED)
	$(BIN)/nbdev_test --n_workers 2

pytest: $(INSTALLED)
	@$(BIN)/python -m pytest tests/ -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: tests/ is empty or broken"; fi; exit $$status

bench: $(INSTALLED)
	$(BIN)/python bench/run.py

preview:
	@test -f _docs/index.html || { echo "no site yet: run make docs first"; exit 1; }
	$(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory _docs

lab: $(INSTALLED)
	$(BIN)/python -c 'import jupyterlab' 2>/dev/null || $(BIN)/python -m pip install --quiet jupyterlab
	$(BIN)/jupyter lab nbs

clean:
	rm -rf _build _docs _proc tests/screenshots
