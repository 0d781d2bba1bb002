# The whole set-up on a fresh machine: `make demo` and `make test` each create .venv and
# install the project into it when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER := 0

.PHONY: demo test lint wheel-check bench clean zbctl

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/raybee demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# A non-editable install of the built wheel, as `ray up` does on every node: every module
# must import from it (dependencies come from .venv; the check runs outside the source tree).
WHEEL_DIR := build/wheel
WHEEL_INSTALL := build/wheel-install
wheel-check: $(STAMP)
	rm -rf $(WHEEL_DIR) $(WHEEL_INSTALL) build/lib
	$(VENV)/bin/pip wheel --quiet --no-deps -w $(WHEEL_DIR) .
	$(VENV)/bin/pip install --quiet --no-deps --target $(WHEEL_INSTALL) $(WHEEL_DIR)/raybee-*.whl
	cd $(WHEEL_INSTALL) && PYTHONPATH=$(CURDIR)/$(WHEEL_INSTALL) $(CURDIR)/$(VENV)/bin/python \
		$(CURDIR)/tests/packaging/import_every_module.py $(CURDIR)/$(WHEEL_INSTALL)

# zbctl 8.4 (Zeebe's CLI, from npm) for the gateway's client tests, kept inside the project.
NPM_DIR := build/npm
ZBCTL := $(NPM_DIR)/node_modules/.bin/zbctl
ZBCTL_VERSION := 8.4.1
$(ZBCTL):
	npm install --silent --no-audit --no-fund --prefix $(NPM_DIR) zbctl@$(ZBCTL_VERSION)
zbctl: $(ZBCTL)

test: $(STAMP) lint wheel-check $(ZBCTL)
	$(VENV)/bin/python -m pytest -q tests

# Every figure in docs/benchmarks.md, one JSON object per area (minutes; run on a quiet machine).
bench: $(STAMP)
	@for area in journal protocol state engine feel; do \
		printf '%s ' $$area; $(VENV)/bin/raybee bench $$area --json || exit 1; done
	@printf 'raft '; $(VENV)/bin/raybee bench raft --seeds 1000 --json

clean:
	rm -rf $(VENV) build *.egg-info
