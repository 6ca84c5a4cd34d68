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
