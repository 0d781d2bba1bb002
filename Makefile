# The whole set-up on a fresh machine: `make demo` and `make test` each create .venv and
# install the project into it when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER := 0

.PHONY: demo test lint bench clean

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

test: $(STAMP) lint
	$(VENV)/bin/python -m pytest -q tests

# Every figure in docs/benchmarks.md, one JSON object per area (minutes; run on a quiet machine).
bench: $(STAMP)
	@for area in journal protocol state engine; do \
		printf '%s ' $$area; $(VENV)/bin/raybee bench $$area --json || exit 1; done
	@printf 'raft '; $(VENV)/bin/raybee bench raft --seeds 1000 --json

clean:
	rm -rf $(VENV) build *.egg-info
