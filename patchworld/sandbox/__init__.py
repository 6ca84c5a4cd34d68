"""The sandbox: running untrusted world-model programs with limits and typed outcomes.

This is the one public door; the modules behind it each do one job:

* :mod:`.limits` -- :class:`Limits` (per job or model session).
* :mod:`.job` -- :func:`run_job`, one replay job in one worker.
* :mod:`.client` -- :func:`open_model` / :class:`ModelClient`, a live model for planning.
* :mod:`.pool` / :mod:`.procs` -- which worker process a job gets (fork server, spawned
  fallback), framing on the parent side.
* :mod:`.worker` / :mod:`.calls` -- the worker process and the calls into the program.

``sandbox=False`` runs the same code in this process with no limits: for trusted programs
and speed comparisons only.
"""

from __future__ import annotations

from patchworld.program import ProgramLoadError
from patchworld.sandbox.client import ModelCallError, ModelClient, Prediction, open_model
from patchworld.sandbox.job import JobResult, run_job
from patchworld.sandbox.limits import Limits
from patchworld.sandbox.pool import release_worker, shutdown_pool, take_worker, use_fork_server
from patchworld.sandbox.procs import ProtocolError, clean_environment
from patchworld.sandbox.summary import summarize

__all__ = ["Limits", "JobResult", "run_job", "open_model", "ModelClient", "Prediction", "ProgramLoadError",
           "ModelCallError", "ProtocolError", "clean_environment", "take_worker", "release_worker", "shutdown_pool",
           "use_fork_server", "summarize"]
