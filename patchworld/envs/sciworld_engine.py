"""AgentGym's SciWorld server logic around one real ScienceWorld JVM (``scienceworld==1.2.3``).

Spec: ``shared/envspecs/sciworld.md`` §1-§4. :class:`Engine` is one server instance: it owns one
``ScienceWorldEnv`` (one JVM, started lazily with :data:`JAVA_OPTIONS`) and
answers ``reset``/``step`` with exactly the dicts AgentGym's ``SciWorldEnv`` returns (same keys,
key order, error texts, the "finished" guard). The world is never re-implemented: every reset
calls ``load`` + ``getTaskDescription`` + the package's own ``ScienceWorldEnv.step("look around")``,
every step calls ``ScienceWorldEnv.step`` itself, because that method's per-step queries (look,
inventory, task description, valid-action list) change later outputs inside the jar (§8).

History matters (§9): within one JVM, listing orders and even circuit scores depend on what the
JVM ran before. Byte-exact replays therefore run a recording in file order on a fresh engine, and
anything that must be reproducible (``generate``, a planner's live env) owns its own fresh engine.

:meth:`Engine.fast_step` is the spec's §8 fast path (``server.step`` + score/done only, ~6 ms against
~70 ms). It is *not* byte-equivalent (listing orders, rarely a circuit's score) and is used only for
clones (rebuilding their state and stepping them, see :mod:`patchworld.envs.sciworld`), never for a
live episode.
"""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["Engine", "DATA_DIR", "games", "N_GAMES", "JAVA_OPTIONS"]

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "envs" / "sciworld"
N_GAMES = 4639
JAVA_OPTIONS = ("-Xmx512m", "-XX:ActiveProcessorCount=2")
"""JVM options. The default heap grows to ~5 GB; 512 MB keeps it near 250 MB (outputs unchanged). The
processor count is pinned to the recording machine's 2 because the JVM sizes its GC and compiler
thread pools from it, and thread creation shifts the identity-hash seeds that order the jar's listings:
emulating 8 processors changed 1 of the 709 recorded responses, 2 changed none (checked here)."""


@cache
def games() -> list[dict[str, Any]]:
    """AgentGym's ``self.games`` (``data_idx`` -> ``{"taskName", "variationIdx"}``), from ``games.json``.

    The server builds it with a throw-away JVM; the shipped list is that list verbatim (spec §1).
    """
    rows = json.loads((DATA_DIR / "games.json").read_text(encoding="utf-8"))
    if len(rows) != N_GAMES:
        raise ValueError(f"{DATA_DIR / 'games.json'}: expected {N_GAMES} games, found {len(rows)}")
    return rows


def _start_jvm(java_options: tuple[str, ...]) -> Any:
    """A ``ScienceWorldEnv`` whose JVM gets ``java_options`` (the package's own constructor cannot pass them)."""
    if shutil.which("java") is None:  # the original server could not start either: not a wrapper error
        raise FileNotFoundError("SciWorld needs a Java runtime on PATH (Java 17 recorded; Debian: "
                                "apt-get install openjdk-17-jre-headless)")
    from py4j.java_gateway import CallbackServerParameters, GatewayParameters, JavaGateway, launch_gateway
    from scienceworld import ScienceWorldEnv
    from scienceworld.constants import BASEPATH, JAR_PATH

    class _ScienceWorld(ScienceWorldEnv):
        def __init__(self) -> None:  # sw.py:23-78 with javaopts added; envStepLimit=100 as AgentGym
            port, proc = launch_gateway(classpath=JAR_PATH, die_on_exit=True, cwd=BASEPATH,
                                        javaopts=list(java_options), return_proc=True)
            self._gateway = JavaGateway(
                gateway_parameters=GatewayParameters(auto_field=True, port=port),
                callback_server_parameters=CallbackServerParameters(port=0, daemonize=True),
                java_process=proc)
            python_port = self._gateway.get_callback_server().get_listening_port()
            self._gateway.java_gateway_server.resetCallbackClient(
                self._gateway.java_gateway_server.getCallbackClient().getAddress(), python_port)
            self.server = self._gateway.jvm.scienceworld.runtime.pythonapi.PythonInterface()
            self.lastStepScore = 0
            self.taskName = None
            self.envStepLimit = 100
            self.clear_run_histories()
            self.goldPathGenerated = False
            import tempfile

            self._obj_tree_tempdir = tempfile.TemporaryDirectory()

    return _ScienceWorld()


class Engine:
    """One AgentGym SciWorld server instance (id ``env_id``) on its own JVM.

    ``reset``/``step`` return the server's response dicts (``{"error": ...}`` instead of raising).
    ``state`` is ``(data_idx, actions since reset)`` of the world currently loaded, or None; the
    env layer uses it to tell whether a clone's state is the loaded one.
    """

    def __init__(self, env_id: int = 0, java_options: tuple[str, ...] = JAVA_OPTIONS) -> None:
        self.env_id = env_id
        self.java_options = java_options
        self._sw: Any = None
        self.info: dict[str, Any] = {"deleted": False, "done": False}
        self.state: tuple[int, tuple[str, ...]] | None = None
        self.last: dict[str, Any] = {}
        """The last response ``reset``/``step`` returned (what the server would have sent)."""

    @property
    def sw(self) -> Any:
        """The ``ScienceWorldEnv`` (starts the JVM on first use)."""
        if self._sw is None:
            self._sw = _start_jvm(self.java_options)
        return self._sw

    @property
    def started(self) -> bool:
        return self._sw is not None

    def reset(self, data_idx: Any) -> dict[str, Any]:
        """``SciWorldEnv.reset`` (env.py:99-122): load, task description, one real ``look around`` step."""
        sw = self.sw  # a JVM that cannot start is not a server answer: FileNotFoundError propagates
        try:
            game = games()[data_idx]
            sw.load(game["taskName"], game["variationIdx"], "", generateGoldPath=False)
            task_description = sw.get_task_description()
            observation, reward, done, info = sw.step("look around")
            payload = {"task_name": game["taskName"], "var_num": game["variationIdx"],
                       "task_description": task_description, "observation": observation, "reward": reward,
                       "score": info["score"], "deleted": False, "done": done}
        except Exception as exc:  # noqa: BLE001 - the server answers {"error": str(e)} for anything
            self.last = {"error": str(exc)}
            return self.last
        self.info.update(payload)
        self.state = (int(data_idx) % N_GAMES, ())
        self.last = payload
        return payload

    def step(self, action: str) -> dict[str, Any]:
        """``SciWorldEnv.step`` (env.py:41-54): the finished guard, then ``ScienceWorldEnv.step`` unchanged."""
        if self.info["done"]:
            self.last = {"error": f"The task with environment {self.env_id} has finished."}
            return self.last
        try:
            observation, reward, done, info = self.sw.step(action)
        except Exception as exc:  # noqa: BLE001 - surfaced as the env's error text, never a traceback
            self.last = {"error": str(exc)}
            return self.last
        payload = {"observation": observation, "reward": reward, "score": info["score"], "done": done}
        self.last = payload
        self.info.update(payload)
        if self.state is not None:
            self.state = (self.state[0], (*self.state[1], action))
        return payload

    def fast_step(self, action: str) -> dict[str, Any]:
        """Step with ``server.step`` + score/done only (§8 fast path, sw.py:420-436 without ``infos``); same dict shape."""
        sw = self.sw
        observation = sw.server.step(action)
        score = int(round(100 * sw.server.getScore()))
        done = bool(sw.server.getCompleted()) or sw.get_num_moves() > sw.envStepLimit or score < 0
        payload = {"observation": observation, "reward": score - sw.lastStepScore, "score": score, "done": done}
        sw.lastStepScore = score
        self.info.update(payload)
        if self.state is not None:
            self.state = (self.state[0], (*self.state[1], action))
        return payload

    def restore(self, data_idx: int, actions: tuple[str, ...]) -> None:
        """Bring the world to ``data_idx`` after ``actions`` (reload, then the fast path), unless it is there."""
        if self.state == (data_idx, actions):
            return
        game = games()[data_idx]
        self.sw.load(game["taskName"], game["variationIdx"], "", generateGoldPath=False)
        self.info["done"] = False
        self.state = (data_idx, ())
        for action in ("look around", *actions):  # the reset's look around, then the history
            self.fast_step(action)
        self.state = (data_idx, actions)

    def close(self) -> None:
        """Shut the JVM down (it is also killed when Python exits)."""
        if self._sw is not None:
            try:
                self._sw.close()
            finally:
                self._sw = None
                self.state = None
