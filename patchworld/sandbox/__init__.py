"""The sandbox: running untrusted world-model programs with limits and typed outcomes.

This is the one public door (what :mod:`patchworld.replay`, ``Session`` and planning call):

* :func:`run_job` -- one replay job in one worker, driven in **lockstep** from this process:
  round t sends step t of every trajectory (the observation to correct the belief with, the
  action, a residual-memory hit) and gets every prediction back; the true observations of step
  t travel only in round t+1 (teacher mode; rollout sends none after the first). The worker never
  decides exactness: every value it returns is coerced here to plain ``str``/``int``/``bool`` with
  length caps, then scored by the caller. Outcomes: ``ok``, ``load_error``, ``timeout``,
  ``memory``, ``crashed``, ``output_limit``, ``protocol_error`` (a frame too large, too deep or
  malformed: the worker is killed, the parent carries on).
* :func:`open_model` / :class:`ModelClient` -- a live model for planning, same rules (the
  residual memory and the text behind each belief handle stay in this process).
* :class:`Limits` -- CPU, memory, wall, per-call, output limits; CPU and wall are floors plus a
  per-transition budget (``transition_seconds``), so big splits are not scored as timeouts.
* ``run_job(shards=...)``: a large job (200+ transitions) started while no other sandbox job runs
  and the cores are free of other work (:class:`.cores.OtherLoad`: the machine's busy CPU time since
  the last decision less this process tree's own; the 1-minute load average less this tree's recent
  share where ``/proc/stat`` cannot be read) is split over two workers (both cores); each shard is
  a job of its own, results merged. On a busy machine a second worker would only add its fixed cost.
* :func:`precompile` -- compile a program once here before several jobs load it (shards, one job per
  trajectory): their job messages then carry the compiled code (:mod:`.precompiled`).

Options for candidate search (see :func:`patchworld.replay.replay`, which passes them on):

* ``trace=True`` (``replay(trace_lines=True)``): the worker records, with ``sys.settrace``
  limited to frames of the program's own code, which lines ran for each transition (its
  correction, ``predict_belief`` and ``readout_observation``); they come back as a sorted list of
  line numbers per transition (a final correction's lines join the last step), checked here
  (integers within the program's length) and exposed as ``Replay.lines``.
* ``post=True`` (``replay(post_correction=True)``, teacher mode): after correcting a belief with a
  true observation the worker reads the corrected belief out (the reference's post-correction
  readout) and returns it with that round's reply, for the previous step; it never replaces a
  prediction and is coerced here like every value.
* ``lean=True``: no belief summaries in the worker and no BLEU-4 in the parent (NaN), only what
  the gate needs (token F1, exactness, error kinds); with ``replay(trajectories_subset=...,
  max_steps=...)`` a candidate can be screened on some trajectories or a prefix of each.
* :func:`patchworld.sandbox.batch.run_batch`: up to 64 candidates screened in ONE job process (fresh
  namespace each, same layers and lockstep; not isolated from each other), for screening only: see
  :mod:`.batch` and ``docs/SECURITY.md``.

Layers (which one stops what: ``docs/SECURITY.md``): :mod:`.kernel` (descriptors, own uid, no new
privileges, Landlock, seccomp; a warning at start-up for each layer the kernel lacks), then
:mod:`.guard` (the audit hook, a friendlier first refusal), resource limits and per-call alarms
in :mod:`.worker`, and defensive decoding in :mod:`.wire`. The other modules: :mod:`.job`
(replay driver, shards), :mod:`.precompiled` (programs compiled once for several jobs), :mod:`.cores` (other work's CPU and the decision to shard), :mod:`.batch` / :mod:`.multi` (screening batches), :mod:`.lockstep` (rounds and coercion), :mod:`.client`, :mod:`.pool` / :mod:`.procs` (worker processes),
:mod:`.calls` / :mod:`.summary` (calls into the program), :mod:`.limits`.

``sandbox=False`` runs the same code in this process with no limits: for trusted programs
and speed comparisons only.
"""

from __future__ import annotations

from patchworld.program import ProgramLoadError
from patchworld.sandbox.client import ModelCallError, ModelClient, Prediction, open_model
from patchworld.sandbox.cores import usable_cores
from patchworld.sandbox.job import OUTCOMES, JobResult, run_job
from patchworld.sandbox.kernel import probe as kernel_layers
from patchworld.sandbox.limits import Limits
from patchworld.sandbox.pool import release_worker, shutdown_pool, take_worker, use_fork_server
from patchworld.sandbox.precompiled import precompile
from patchworld.sandbox.procs import ProtocolError, clean_environment
from patchworld.sandbox.summary import summarize

__all__ = ["Limits", "JobResult", "OUTCOMES", "run_job", "open_model", "ModelClient", "Prediction",
           "ProgramLoadError", "ModelCallError", "ProtocolError", "clean_environment", "take_worker",
           "release_worker", "shutdown_pool", "use_fork_server", "summarize", "kernel_layers", "precompile",
           "usable_cores"]
