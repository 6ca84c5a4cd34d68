"""Programs written for the reference load unchanged: its canonical state helpers are importable
from ``patchworld.worldmodel_base`` and behave as the reference's do, inside the sandbox too."""

import textwrap

from patchworld.data import load_trajectories
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.worldmodel_base import (
    MazeState,
    WebshopState,
    belief_supports_latent_inference,
    canonicalize_maze_walls,
    coerce_maze_state,
    coerce_textcraft_state,
    coerce_webshop_state,
    coerce_wordle_state,
    render_maze_observation,
)

REFERENCE_STYLE = textwrap.dedent('''
    import re
    from patchworld.worldmodel_base import BaseWorldModel, MazeState, coerce_maze_state, render_maze_observation

    class Model(BaseWorldModel):
        def parse_observation(self, obs_text):
            pos = re.findall(r"position (-?\\d+), (-?\\d+)\\.", obs_text)
            if len(pos) < 2:
                return {"raw_text": obs_text.strip()}
            return {"goal_x": pos[0][0], "goal_y": pos[0][1], "agent_x": pos[-1][0], "agent_y": pos[-1][1],
                    "obs_text": obs_text}
        def extract_valid_action_forms(self):
            return {"move": ["move up", "move down", "move left", "move right"]}
        def init_belief(self):
            return {"state": None}
        def correct_belief(self, belief_prior, obs_text):
            return {"state": coerce_maze_state(self.parse_observation(obs_text)) or belief_prior.get("state")}
        def predict_belief(self, belief, action):
            return dict(belief)
        def readout_observation(self, belief, action=""):
            state = belief.get("state")
            return state.obs_text if isinstance(state, MazeState) else ""
''')


def test_reference_style_program_runs_in_the_sandbox():
    val = load_trajectories("data/trajectories/maze/maze_traj_val.jsonl")[:5]
    result = replay(Program.from_source(REFERENCE_STYLE), val, mode="teacher", sandbox=True)
    assert result.outcome == "ok", result.detail
    assert result.metrics["n_load_errors"] == 0 and result.metrics["n_exceptions"] == 0
    assert result.metrics["token_f1"] > 0.3  # copy-last through MazeState: a real, imperfect score


def test_maze_helpers_behave_like_the_reference():
    state = coerce_maze_state({"agent_x": "2", "agent_y": 3, "goal_x": 8, "goal_y": 6,
                               "walls": ["to your right", "above you", "nonsense"]})
    assert state == MazeState(2, 3, 8, 6, ("up", "right"))
    assert render_maze_observation(state) == ("The goal is at position 8, 6. Your current position is at position "
                                              "2, 3. There are walls above you, to your right.")
    assert render_maze_observation(MazeState(1, 1, 8, 6, ("down",))).endswith("There is a wall below you.")
    assert coerce_maze_state({"raw_text": "Success"}).status == "success"
    assert coerce_maze_state({"x": 1}) is None
    assert canonicalize_maze_walls({"left": 1, "down": 1}) == ("down", "left")


def test_other_coercions():
    wordle = coerce_wordle_state({"guess_history": ["CRANE", "s l a t e"], "feedback_letters": ["b", "y", "g", "b", "b"],
                                  "possible_words": {"a", "b", "c"}})
    assert wordle.guess_history == ("c r a n e", "s l a t e") and wordle.candidate_count == 3
    assert wordle.status == "feedback"
    craft = coerce_textcraft_state({"inventory": {"Oak Log": "2", "stick": "x"}, "goal_item": " Stick "})
    assert craft.inventory == (("oak log", 2),) and craft.goal_item == "stick"
    shop = coerce_webshop_state({"raw_text": "Back to Search [SEP] < Prev [SEP] Description [SEP] B0ABCDEFGH",
                                 "selected_filters": {"Size": "Large"}})
    assert shop == WebshopState("product", None, (("size", "large"),), "B0ABCDEFGH", False)
    assert belief_supports_latent_inference({"x": {"possible_words": []}})
    assert not belief_supports_latent_inference({"x": 1}, "wordle")
    assert belief_supports_latent_inference({"x": 1}, "maze")
