"""Secrets never leave in text: configured keys and key-shaped strings are replaced."""

from patchworld.redact import REDACTED, redact, register_secret


def test_env_key_is_redacted(monkeypatch):
    monkeypatch.setenv("PATCHWORLD_LLM_API_KEY", "canary-0123456789")
    out = redact("prompt with canary-0123456789 inside")
    assert "canary-0123456789" not in out and REDACTED in out


def test_registered_secret_and_key_shape(monkeypatch):
    register_secret("passed-as-argument-42")
    assert redact("x passed-as-argument-42 y") == f"x {REDACTED} y"
    assert redact("key sk-abcdefghijklmnop1234 end") == f"key {REDACTED} end"


def test_plain_text_untouched(monkeypatch):
    monkeypatch.setenv("SOME_TOKEN", "1")  # too short to be a credential
    text = "The goal is at position 8, 6. Your current position is at position 1, 1."
    assert redact(text) == text


def test_a_program_holding_a_configured_key_never_enters_a_run_folder(monkeypatch, tmp_path):
    import pytest

    from patchworld.program import Program
    from patchworld.synthesis import Session

    monkeypatch.setenv("OPENAI_API_KEY", "canary-key-9876543210")
    source = open("data/programs/maze_flawed.py").read()
    leaky = Program.from_source(source + '\nKEY = "canary-key-9876543210"\n')
    val = "data/trajectories/maze/maze_traj_val.jsonl"
    with pytest.raises(ValueError, match="the starting program contains a configured secret"):
        Session("maze", "data/trajectories/maze/maze_traj_train.jsonl", val, program=leaky, run_dir=tmp_path / "a")
    assert not (tmp_path / "a").exists()
    session = Session("maze", "data/trajectories/maze/maze_traj_train.jsonl", val,
                      program=Program.from_source(source), run_dir=tmp_path / "b")
    try:
        with pytest.raises(ValueError, match="hand-edited program"):
            session.submit(leaky.source)
    finally:
        session.close()
    assert not any("canary-key" in p.read_text() for p in (tmp_path / "b").rglob("*") if p.is_file()
                   and p.suffix in (".py", ".json", ".jsonl", ".txt"))
