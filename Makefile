# The README's two commands: `make demo` (the main job, offline) and `make test`.
# Both create .venv from requirements.txt when it is missing and install the package editable.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.patchworld-installed

.PHONY: demo test lint data results venv clean

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
	for env in maze wordle textcraft babyai webshop sciworld; do \
		$(BIN)/patchworld generate --env $$env --seed 0 --out data/trajectories/$$env || exit 1; \
	done

# Regenerate the example results in data/results (data/results/README.md): mutation-loop runs on the
# flawed maze and Wordle programs (simple and residual), then RQ1-RQ3 + proxy and the figures. ~30 s.
RESULT_RUNS := runs/example-results
results: $(STAMP)
	rm -rf $(RESULT_RUNS) && mkdir -p $(RESULT_RUNS)
	for env in maze wordle; do for variant in simple residual; do \
		$(BIN)/patchworld induce --env $$env --variant $$variant --proposer mutation \
			--program data/programs/$${env}_flawed.py --rounds 6 --out $(RESULT_RUNS)/$$env-flawed-$$variant || exit 1; \
	done; done
	rm -rf data/results/programs
	$(BIN)/patchworld evaluate \
		--programs data/programs/handwritten/maze.py data/programs/handwritten/wordle.py \
			data/programs/handwritten/textcraft.py data/programs/handwritten/babyai.py \
			maze=data/programs/maze_flawed.py maze=data/programs/maze_reference.py \
			wordle=data/programs/wordle_flawed.py wordle=data/programs/wordle_reference.py \
		--runs $(RESULT_RUNS)/maze-flawed-simple $(RESULT_RUNS)/maze-flawed-residual \
			$(RESULT_RUNS)/wordle-flawed-simple $(RESULT_RUNS)/wordle-flawed-residual \
		--out data/results --n-tasks 8 --proxy-states 40 --rollout-limit 20
	$(BIN)/patchworld figures --results data/results --out data/results --formats html svg --plotlyjs cdn

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
