"""The seed's baselines as methods a researcher runs with one command (``patchworld baseline``).

Each produces world-model *programs* (or, for LLM-Direct, a trusted model run in-process) that go
through the same replay (RQ1, RQ2), planning (RQ3) and figures as PatchWorld's, labelled by
method. See each module's docstring for what is faithful to its paper and what is simplified:

* :mod:`.poe_world` -- PoE-World-style product of programmatic experts (offline; LLM rules optional)
* :mod:`.worldcoder` -- WorldCoder-style whole-program rewrites with an optimism objective (LLM)
* :mod:`.llm_direct` -- LLM-Direct: the LLM predicts each next observation (LLM, per step)

ReAct (an LLM agent with no world model) is a planning agent: :mod:`patchworld.planning`.
Word2World (an SFT-trained neural world model) is out of scope here: it needs GPU training and
model weights that cannot be fetched in this workbench's environment.
"""
