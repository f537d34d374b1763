# Set-up and checks. `make demo` runs the main job; `make test` runs lint (ruff, the import
# contracts), types and the test suite.
# Both create .venv and install pinned dependencies on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU machines take the local CPU wheel; on a CUDA machine pass e.g. TORCH_SPEC="torch==2.13.0"
# with your CUDA index configured in pip.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?= -m "not slow and not soak"

.PHONY: venv test lint typecheck pytest demo bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

demo: venv
	$(BIN)/tcan-live demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
