"""Decoding one chat-completion answer, whatever shape the server gives it.

Servers differ (vLLM, Ollama, llama.cpp, hosted APIs) and fail in odd ways: an HTML page with
status 200, ``content`` that is a list of parts or an int, ``usage`` as strings or missing, a
lone UTF-16 surrogate in the text, the answer under ``tool_calls`` or after a ``<think>`` block.
:func:`decode_body` (a whole JSON answer) and :class:`StreamDecoder` (server-sent events) turn
each into a :class:`Reply` or raise :class:`BadReply` with a one-line reason; a bad reply is
retried by the client and never cached.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BadReply", "Reply", "decode_body", "StreamDecoder", "clean_text", "estimate_tokens"]

_THINK = re.compile(r"<think>.*?</think>\s*", re.DOTALL | re.IGNORECASE)


class BadReply(ValueError):
    """The server answered 200 but with nothing usable (not JSON, no choices, empty or odd content)."""


@dataclass
class Reply:
    """A decoded answer: its text, token counts (estimated when the server gave none) and notes."""

    content: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = ""
    model: str = ""
    notes: list[str] = field(default_factory=list)


def clean_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (so it can be written as UTF-8 anywhere)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def estimate_tokens(text: str) -> int:
    """A rough token count (4 characters a token) for servers that report no usage."""
    return max(1, len(text) // 4) if text else 0


def _count(value: Any) -> int | None:
    """A token count from an int, a float or a digit string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value >= 0 and value == int(value):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any, where: str) -> str:
    """Message content as text: a string, or a list of text parts (OpenAI's content-part form)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise BadReply(f"{where} is a list with a {type(part).__name__} part that holds no text")
        return "".join(parts)
    raise BadReply(f"{where} is a {type(value).__name__}, not text")


def _tool_text(calls: Any) -> str:
    """The arguments of tool calls, for a model that answered through a tool it was not offered."""
    if not isinstance(calls, list):
        return ""
    out = []
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        args = fn.get("arguments") if isinstance(fn, dict) else None
        if isinstance(args, str):
            out.append(args)
    return "\n".join(out)


def _finish(content: str, notes: list[str]) -> str:
    """Strip reasoning blocks, fix surrogates, refuse an empty answer."""
    fixed = clean_text(content)
    if fixed != content:
        notes.append("lone surrogates replaced")
    if "<think>" in fixed.lower():
        fixed = _THINK.sub("", fixed)
        notes.append("<think> block removed")
    if not fixed.strip():
        raise BadReply("empty reply")
    return fixed


def _usage(body: dict[str, Any]) -> tuple[int | None, int | None]:
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None, None
    return _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))


def decode_body(raw: str) -> Reply:
    """Decode a whole (non-streamed) chat-completion body; :class:`BadReply` when unusable."""
    try:
        body = json.loads(raw)
    except ValueError:
        head = " ".join(raw.strip().split())[:60]
        raise BadReply(f"the body is not JSON (starts {head!r})") from None
    if not isinstance(body, dict):
        raise BadReply(f"the body is a JSON {type(body).__name__}, not an object")
    if isinstance(body.get("error"), (dict, str)):
        err = body["error"]
        raise BadReply(f"the server reported an error: {str(err.get('message', err) if isinstance(err, dict) else err)[:200]}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BadReply("the reply has no choices")
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    notes: list[str] = []
    content = _text(message.get("content"), "content")
    if not content.strip():
        content = _tool_text(message.get("tool_calls"))
        if content:
            notes.append("answer taken from tool_calls")
    if not content.strip() and isinstance(choice.get("text"), str):  # a completions-style choice
        content = choice["text"]
    if not content.strip() and (message.get("reasoning_content") or message.get("reasoning")):
        raise BadReply("the reply holds only reasoning, no answer (raise --llm-max-tokens?)")
    prompt_tokens, completion_tokens = _usage(body)
    return Reply(_finish(content, notes), prompt_tokens, completion_tokens, str(choice.get("finish_reason") or ""),
                 str(body.get("model") or ""), notes)


class StreamDecoder:
    """Accumulates server-sent ``data:`` lines of a streamed chat completion into a :class:`Reply`."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tool_parts: list[str] = []
        self.reasoning = False
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.finish_reason = ""
        self.model = ""
        self.events = 0
        self.content_events = 0   # llama.cpp streams one token per event: the completion count when usage is missing
        self.done = False
        self.non_sse: list[str] = []

    def feed(self, line: str) -> None:
        """One line of the stream (blank lines, comments and ``event:`` lines are skipped)."""
        line = line.strip()
        if not line or line.startswith((":", "event:", "id:", "retry:")):
            return
        if not line.startswith("data:"):
            self.non_sse.append(line)
            return
        data = line[5:].strip()
        if data == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise BadReply(f"a stream event is not JSON ({data[:60]!r})") from None
        if not isinstance(chunk, dict):
            raise BadReply("a stream event is not a JSON object")
        if chunk.get("error"):
            err = chunk["error"]
            raise BadReply(f"the server reported an error mid-stream: {str(err.get('message', err) if isinstance(err, dict) else err)[:200]}")
        self.events += 1
        self.model = self.model or str(chunk.get("model") or "")
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.prompt_tokens = _count(usage.get("prompt_tokens"))
            self.completion_tokens = _count(usage.get("completion_tokens"))
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            piece = _text(delta.get("content"), "a streamed content delta")
            self.parts.append(piece)
            self.content_events += bool(piece)
            for call in delta.get("tool_calls") or []:
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                    self.tool_parts.append(fn["arguments"])
            if delta.get("reasoning_content") or delta.get("reasoning"):
                self.reasoning = True
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])

    def reply(self) -> Reply:
        """The accumulated answer; a body that was not a stream at all is decoded as a whole body."""
        if not self.events and self.non_sse:
            return decode_body("\n".join(self.non_sse))
        notes: list[str] = []
        content = "".join(self.parts)
        if not content.strip() and self.tool_parts:
            content = "".join(self.tool_parts)
            notes.append("answer taken from tool_calls")
        if not content.strip() and self.reasoning:
            raise BadReply("the reply holds only reasoning, no answer (raise --llm-max-tokens?)")
        if not self.events:
            raise BadReply("the stream carried no events")
        if not self.done and not self.finish_reason:
            raise BadReply("the stream ended before the reply did (no finish_reason, no [DONE])")
        completion = self.completion_tokens
        if completion is None and self.content_events:
            completion = self.content_events
            notes.append("completion tokens counted from stream events")
        return Reply(_finish(content, notes), self.prompt_tokens, completion, self.finish_reason, self.model, notes)
