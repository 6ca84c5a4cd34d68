# The README's two commands: `make demo` (the main job, offline) and `make test`.
# Both create .venv from requirements.txt when it is missing and install the package editable.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.patchworld-installed

.PHONY: demo test lint data venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/patchworld demo

lint: $(STAMP)
	$(BIN)/ruff check patchworld tests benchmarks notebooks
	$(BIN)/nbstripout --verify notebooks/*.ipynb

test: lint
	$(BIN)/python -m pytest -q -rs

# Regenerate the shipped datasets (byte-identical for the same seed).
data: $(STAMP)
	for env in maze wordle textcraft babyai; do \
		$(BIN)/patchworld generate --env $$env --seed 0 --out data/trajectories/$$env || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
