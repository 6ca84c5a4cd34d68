"""LMRL-Gym's double T-maze as served by AgentGym (``/maze/``), re-implemented exactly.

Spec: ``shared/envspecs/maze.md``. A fixed 10 x 13 grid, goal ``(8, 6)``, 25 usable start
cells chosen by the game index. Deterministic: there is no randomness, the task id (game
index) fixes the whole episode.

Return values (Gymnasium style):

* ``reset(task) -> str``: the first observation as the AgentGym client shows it, i.e.
  ``instruction_prompt.txt + "\\n" + <position sentence>`` (``client_prompt=False`` gives the
  bare server reset observation instead). Errors, with the original server's text:
  ``task >= 26`` -> ``EnvError("The game {task} is not valid.")``; the goal cell (task 25 or
  -1) -> ``EnvError("")``; ``task < -26`` -> ``EnvError("list index out of range")``. Other
  negative tasks index from the end like a Python list (as the original does). A failed
  reset leaves the previous episode untouched.
* ``step(action) -> Step``: ``observation`` is the position sentence
  ``"The goal is at position 8, 6. Your current position is at position {r}, {c}. {walls}"``
  (no trailing newline), or ``"Success\\n"`` / ``"Failure\\n"`` on the terminal step;
  ``reward`` is the int ``0`` on normal steps, ``1.0`` on success, ``-1.0`` when the 51st step
  hits the 50-step limit; ``done`` is true on those two terminal steps. Invalid action strings
  (anything but the exact ``move left|right|up|down``) act like a bump into a wall.
  Stepping a finished episode raises ``EnvError("The task with environment {env_id} has finished.")``.
* ``progress(task, observation) -> float``: ``1 - d / 12`` where ``d`` is the shortest-path
  distance from the last position mentioned in ``observation`` to the goal (12 = the
  largest distance on this map); ``1.0`` for ``Success``; ``0.0`` for text without a position
  (``Failure``, garbage). It reads the true map: planners must not use it (it is privileged).
* ``goal_score(goal, observation) -> float`` (static, text only): what a planner may use. It reads
  the goal cell from the goal text (``"The goal is at position R, C"``, the first observation)
  and the last ``"current position is at position r, c"`` of ``observation``:
  ``1 - (|R - r| + |C - c|) / 20`` (Manhattan distance, no map, no walls); ``1.0`` for
  ``Success``; ``0.0`` for ``Failure`` and for text without a position or a goal without a cell.
"""

from __future__ import annotations

import json
import re
from collections import deque
from functools import lru_cache
from pathlib import Path

from patchworld.envs.base import EnvError, Step, register

__all__ = ["MazeEnv", "ACTIONS", "DATA_DIR", "MAX_STEPS", "expert", "conversation_start", "observation_text",
           "goal_score"]

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "envs" / "maze"
ACTIONS: dict[str, tuple[int, int]] = {
    "move left": (0, -1),
    "move right": (0, 1),
    "move up": (-1, 0),
    "move down": (1, 0),
}
"""Valid actions and their (row, column) deltas, in the server's ``available_actions`` order."""
MAX_STEPS = 50
_WALL_CHECKS = (("to your right", (0, 1)), ("to your left", (0, -1)), ("above you", (-1, 0)), ("below you", (1, 0)))
_POSITION_RE = re.compile(r"Your current position is at position (-?\d+), (-?\d+)\.")
_GOAL_RE = re.compile(r"[Tt]he goal is at position (-?\d+), (-?\d+)")

Cell = tuple[int, int]


@lru_cache(maxsize=1)
def _layout() -> tuple[tuple[tuple[int, ...], ...], tuple[Cell, ...], Cell, str]:
    """(grid, start cells, goal, instruction prompt), read once from ``DATA_DIR``."""
    lines = (DATA_DIR / "double_t_maze.txt").read_text(encoding="utf-8").splitlines()
    grid = tuple(tuple(int(ch) for ch in line.strip()) for line in lines if line.strip() and not line.startswith("#"))
    meta = json.loads((DATA_DIR / "start_positions.json").read_text(encoding="utf-8"))
    starts = tuple((int(r), int(c)) for r, c in meta["start_positions"])
    goal = (int(meta["goal"][0]), int(meta["goal"][1]))
    prompt = (DATA_DIR / "instruction_prompt.txt").read_text(encoding="utf-8")
    return grid, starts, goal, prompt


@lru_cache(maxsize=1)
def _distances() -> dict[Cell, int]:
    """BFS distance to the goal for every free cell."""
    grid, _, goal, _ = _layout()
    dist = {goal: 0}
    queue = deque([goal])
    while queue:
        r, c = queue.popleft()
        for dr, dc in ACTIONS.values():
            nxt = (r + dr, c + dc)
            if grid[nxt[0]][nxt[1]] == 0 and nxt not in dist:
                dist[nxt] = dist[(r, c)] + 1
                queue.append(nxt)
    return dist


def conversation_start() -> list[dict[str, str]]:
    """The two fixed chat turns AgentGym puts before the first observation."""
    return json.loads((DATA_DIR / "conversation_start.json").read_text(encoding="utf-8"))


def observation_text(position: Cell) -> str:
    """The server's non-terminal observation sentence for ``position``."""
    grid, _, goal, _ = _layout()
    r, c = position
    walls = [phrase for phrase, (dr, dc) in _WALL_CHECKS if grid[r + dr][c + dc] == 1]
    if not walls:
        wall_text = "There are no walls near you."
    elif len(walls) == 1:
        wall_text = f"There is a wall {walls[0]}."
    else:
        wall_text = f"There are walls {', '.join(walls)}."
    return f"The goal is at position {goal[0]}, {goal[1]}. Your current position is at position {r}, {c}. {wall_text}"


class MazeEnv:
    """The double T-maze (AgentGym ``maze``); tasks are the usable game indices 0-24.

    First observation: with ``client_prompt=True`` (default) ``reset`` returns what the
    AgentGym client shows the agent: the instruction prompt, one newline, then the server's
    reset sentence. ``server_observation`` always holds the last raw server string.
    ``env_id`` is the server-side id quoted in the "has finished" error (0 like the recordings).
    """

    name = "maze"

    def __init__(self, client_prompt: bool = True, env_id: int = 0) -> None:
        self.client_prompt = client_prompt
        self.env_id = env_id
        self.task: int | None = None
        self.position: Cell | None = None
        self.n_steps = 0
        self.done = False
        self.server_observation = ""

    @property
    def tasks(self) -> list[int]:
        """Usable game indices (every start cell except the goal itself)."""
        _, starts, goal, _ = _layout()
        return [i for i, cell in enumerate(starts) if cell != goal]

    def reset(self, task: int) -> str:
        """Start game ``task``; returns the first observation (see the module docstring)."""
        _, starts, goal, prompt = _layout()
        if task >= len(starts):
            raise EnvError(f"The game {task} is not valid.")
        if task < -len(starts):
            raise EnvError("list index out of range")  # the original indexes a Python list
        start = starts[task]
        if start == goal:
            raise EnvError("")  # upstream fails an assertion with an empty message
        self.task, self.position, self.n_steps, self.done = task, start, 0, False
        self.server_observation = observation_text(start)
        return f"{prompt}\n{self.server_observation}" if self.client_prompt else self.server_observation

    def step(self, action: str) -> Step:
        """Apply one action; see the module docstring for observations, rewards and errors."""
        if self.position is None:
            raise EnvError("call reset(task) before step()")
        if self.done:
            raise EnvError(f"The task with environment {self.env_id} has finished.")
        goal = _layout()[2]
        if self.n_steps >= MAX_STEPS:
            self.done = True
            return self._emit("Failure\n", -1.0)
        dr, dc = ACTIONS.get(action, (0, 0))
        grid = _layout()[0]
        if grid[self.position[0] + dr][self.position[1] + dc] == 0:
            self.position = (self.position[0] + dr, self.position[1] + dc)
        if self.position == goal:
            self.done = True
            return self._emit("Success\n", 1.0)
        self.n_steps += 1
        return self._emit(observation_text(self.position), 0)

    def _emit(self, observation: str, reward: float) -> Step:
        self.server_observation = observation
        return Step(observation, reward, self.done, {"position": self.position, "steps": self.n_steps})

    def available_actions(self) -> list[str]:
        """The four move actions (the server's ``/maze/available_actions``)."""
        return list(ACTIONS)

    def is_success(self) -> bool:
        """Whether the agent stands on the goal."""
        return self.position is not None and self.position == _layout()[2]

    def progress(self, task: int, observation: str) -> float:
        """``1 - dist/12`` from the last position in ``observation``; 1.0 on Success, 0.0 if none."""
        if observation.strip() == "Success":
            return 1.0
        found = _POSITION_RE.findall(observation)
        if not found:
            return 0.0
        dist = _distances().get((int(found[-1][0]), int(found[-1][1])))
        if dist is None:
            return 0.0
        return 1.0 - dist / max(_distances().values())

    @staticmethod
    def goal_score(goal: str, observation: str) -> float:
        """Text-only value of ``observation`` for the goal text (module docstring); no map, no hidden state."""
        return goal_score(goal, observation)

    def distance_to_goal(self) -> int:
        """Shortest-path distance from the current position to the goal."""
        if self.position is None:
            raise EnvError("call reset(task) before distance_to_goal()")
        return _distances()[self.position]

    def clone(self) -> MazeEnv:
        """An independent copy in the same state."""
        other = MazeEnv(self.client_prompt, self.env_id)
        other.__dict__.update(self.__dict__)
        return other


def goal_score(goal: str, observation: str) -> float:
    """``1 - manhattan/20`` from the goal cell named in ``goal`` to the last position in ``observation``."""
    text = observation.strip()
    if text == "Success":
        return 1.0
    cell, found = _GOAL_RE.search(goal), _POSITION_RE.findall(observation)
    if text == "Failure" or cell is None or not found:
        return 0.0
    distance = abs(int(cell.group(1)) - int(found[-1][0])) + abs(int(cell.group(2)) - int(found[-1][1]))
    return max(0.0, 1.0 - distance / 20)


def expert(env: MazeEnv) -> str:
    """BFS policy: the move that lowers the shortest-path distance to the goal.

    The maze is a tree, so the shortest path is unique; at the goal (or before reset) it
    returns ``"move down"``.
    """
    if env.position is None:
        return "move down"
    dist = _distances()
    here = dist[env.position]
    for action, (dr, dc) in ACTIONS.items():
        if dist.get((env.position[0] + dr, env.position[1] + dc), here) < here:
            return action
    return "move down"


DESCRIPTION = (
    "Maze (LMRL-Gym double T-maze via AgentGym): a fully observed grid navigation task on a fixed 10x13 map. "
    "Positions are (row, column) pairs: the first number grows downward (move down adds 1 to it), the second "
    "grows rightward (move right adds 1 to it). The agent starts on one of 25 free cells and must reach the goal "
    "at position 8, 6. Actions are exactly one of the strings 'move up', 'move down', 'move left', 'move right' "
    "(case-sensitive, single spaces); any other string is ignored like a bump into a wall. After each "
    "non-terminal step the environment answers with one line: 'The goal is at position 8, 6. Your current "
    "position is at position R, C. ' followed by the walls among the four neighbours in the order right, left, "
    "above, below: 'There is a wall above you.' for one wall or 'There are walls to your right, to your left.' "
    "for several. Moving into a wall leaves the position unchanged (same text). Reaching the goal returns "
    "'Success\\n' (with a trailing newline), reward 1.0, done. After 50 non-terminal steps the next step returns "
    "'Failure\\n', reward -1.0, done, whatever the action. All other steps give reward 0. The first observation is "
    "the instruction prompt followed by a newline and the start position sentence."
)


register("maze", MazeEnv, expert=expert, description=DESCRIPTION)
