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

# napari's tests draw with OpenGL on a virtual X server (Qt's offscreen platform has no OpenGL
# context): Xvfb, Mesa's software OpenGL and the X libraries Qt's xcb platform loads.
# `make system-deps` apt-installs whichever are missing (as root, or with sudo).
SYSTEM_PACKAGES := xvfb libgl1 libegl1 libglx-mesa0 libgl1-mesa-dri libglib2.0-0 libfontconfig1 \
	fonts-dejavu-core libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb1 \
	libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 \
	libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1 \
	libxcb-glx0

.PHONY: venv system-deps test lint typecheck pytest demo bench clean

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

system-deps:
	@command -v dpkg-query >/dev/null || { echo "system-deps: not a Debian system; install: $(SYSTEM_PACKAGES)"; exit 0; }; \
	missing=$$(for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages for the napari tests:" $$missing; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			$$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

pytest: venv system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

demo: venv
	$(BIN)/tcan-live demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
