# Two commands matter on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
OPKPI := $(VENV)/bin/opkpi
HOME_DIR ?= home
SAMPLE := sample_data/generated
export GX_ANALYTICS_ENABLED := false

.PHONY: run test lint bench env sample clean

# uv lives in its own tools venv: a uv inside .venv would be removed by its own sync (DESIGN §9).
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	touch $@

env: $(VENV)/.synced

$(SAMPLE)/.done: | env
	$(OPKPI) sample-data --out $(SAMPLE)
	touch $@

sample: $(SAMPLE)/.done

run: env sample
	$(OPKPI) --home $(HOME_DIR) ingest $(SAMPLE)
	$(OPKPI) --home $(HOME_DIR) run --min-age 0
	$(OPKPI) --home $(HOME_DIR) report scorecard --grain all

test: env
	# A non-UTC zone far from the data (DESIGN: nothing may depend on the process timezone).
	TZ=Asia/Vladivostok $(VENV)/bin/pytest -q -n 2 tests

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: env
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(HOME_DIR) $(SAMPLE)
