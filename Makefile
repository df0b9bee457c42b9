# The two commands a new user needs:
#   make demo   - set up everything and open the app on a generated demo project
#   make test   - set up everything and run the whole test suite (what CI runs)
#
# TORCH picks the torch installed for development and tests: 2.13.0, whichever build the
# pip index serves (a CPU wheel from local disk on our CI machines; the CUDA build from
# PyPI on Linux). On a GPU machine use e.g. `make test TORCH='torch>=2.2'` (DEVELOPERS.md).

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/annotator demo demo-project
	$(BIN)/annotator gui demo-project

LOOSE_CODES := arg-type assignment call-overload list-item misc operator return-value \
	type-var var-annotated

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	# benchmarks and scripts call the package's API, which moves: the names and calls
	# they use are checked (a renamed attribute broke benchmarks/responsiveness.py unseen)
	$(BIN)/mypy benchmarks scripts $(foreach c,$(LOOSE_CODES),--disable-error-code $(c))

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: package smoke

# The frozen one-folder app (dist/annotator/) and its smoke test; see packaging/README.md.
package: install
	@test -x $(BIN)/pyinstaller || $(BIN)/python -m pip install --quiet "pyinstaller>=6.0"
	PYTHONPATH=$(CURDIR) $(BIN)/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/annotator.spec
	cp packaging/linux/install.sh dist/annotator/install.sh
	packaging/smoke.sh dist/annotator

# The user guide's and the README's screenshots, rendered from the real app offscreen
# (the README's loop pictures train a small model first: a few minutes of CPU).
screenshots: install
	PYTHONPATH=$(CURDIR) QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/screenshots.py --readme

# The demo opens under Xvfb and a screenshot is taken (what `make demo` does, checked).
smoke: install
	PYTHON=$(BIN)/python PYTHONPATH=$(CURDIR) scripts/check_demo.sh

clean:
	rm -rf $(VENV) demo-project .pytest_cache .ruff_cache
