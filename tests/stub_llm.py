"""An OpenAI-compatible stub chat server on 127.0.0.1, for testing LLM code paths offline.

Serves ``POST /v1/chat/completions`` from a script of replies (first in, first out), counts the
calls and keeps the request bodies. A scripted :class:`Reply` can be an HTTP error (e.g. 429),
or sleep before answering (to trigger client timeouts), or be held back until the test sets
an event (to force out-of-order completion without timing). The stub
records how many requests it was serving at once (``max_in_flight``), so a test can check that
a client really overlaps its calls. When the script runs out the stub
answers with ``default`` if set, else HTTP 400 (which the LLM proposer raises as an error, so
a test that makes too many calls fails loudly).

Use in a test module (the tests folder is on ``sys.path`` under pytest's default import mode)::

    from stub_llm import Reply, stub_llm  # noqa: F401  (stub_llm is a pytest fixture)

    def test_something(stub_llm):
        stub_llm.script("<<<<<<< SEARCH ...", Reply(status=429), "...")
        proposer = LLMProposer(model="stub", base_url=stub_llm.url, api_key="test", cache_dir=tmp)
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["Reply", "StubLLM", "stub_llm"]

HOLD_LIMIT = 10.0  # seconds a held reply waits at most for its release (a sequential client ends up here)


@dataclass
class Reply:
    """One scripted answer: content with status 200, or an error status; ``delay`` seconds first.

    ``release``: hold the answer until the test sets this event (at most ``HOLD_LIMIT`` seconds).
    """

    content: str = ""
    status: int = 200
    delay: float = 0.0
    release: threading.Event | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None              # send this body verbatim (e.g. an HTML page) with status 200
    message: dict[str, Any] | None = None  # the choice's message as given (content of any type, tool_calls...)
    usage: Any = "auto"                 # "auto": counted; None: no usage field; anything else: sent as is
    choices: list[Any] | None = None    # the choices list as given (e.g. [] for "no choices")
    chunk_delay: float = 0.0            # streamed replies: seconds between chunks (a slow generator)
    drop_after: int | None = None       # streamed replies: hang up after this many chunks (a crashed server)


class StubLLM:
    """The stub server; start with ``with StubLLM() as stub:`` or ``start()``/``stop()``."""

    def __init__(self, replies: list[Reply | str] | None = None, default: str | None = None):
        self._script: deque[Reply] = deque()
        self.default = default
        self.calls = 0
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0       # requests being served right now
        self.max_in_flight = 0   # the most requests served at once
        self.busy_at_arrival: list[int] = []  # requests still being served when each request arrived
        self.cancelled = 0       # streamed replies the client hung up on before the end (server stopped early)
        self.emulate_llama_cpp = False  # json_schema response_format -> 500; prompts over `context` words -> 400
        self.context = 0         # with emulate_llama_cpp: context size in words (0 = unlimited)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.script(*(replies or []))

    def script(self, *replies: Reply | str) -> None:
        """Append replies (plain strings are 200 replies with that content)."""
        with self._lock:
            self._script.extend(r if isinstance(r, Reply) else Reply(content=r) for r in replies)

    @property
    def pending(self) -> int:
        return len(self._script)

    @property
    def url(self) -> str:
        assert self._server is not None, "stub not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _enter(self) -> None:
        with self._lock:
            self.busy_at_arrival.append(self.in_flight)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.calls += 1
            self.requests.append(body)
            if self._script:
                return self._script.popleft()
        if self.default is not None:
            return Reply(content=self.default)
        return Reply(status=400, content="stub: no scripted reply left")

    def _llama_cpp_quirk(self, body: dict[str, Any], prompt: str) -> Reply | None:
        """llama.cpp server behaviours seen for real: json_schema response formats give HTTP 500 and a
        prompt over the context gives a clean 400 (neither consumes a scripted reply)."""
        if not self.emulate_llama_cpp:
            return None
        if (body.get("response_format") or {}).get("type") == "json_schema":
            with self._lock:
                self.calls += 1
                self.requests.append(body)
            return Reply(status=500, content="'json_schema' response format is not supported")
        words = len(prompt.split()) + int(body.get("max_tokens") or 0)
        if self.context and words > self.context:
            with self._lock:
                self.calls += 1
                self.requests.append(body)
            return Reply(status=400, content=f"Requested tokens ({words}) exceed context window of {self.context}")
        return None

    def start(self) -> StubLLM:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                stub._enter()
                try:
                    self._serve()
                finally:
                    stub._leave()

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}}, {})
                    return
                body = json.loads(raw or b"{}")
                prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
                quirk = stub._llama_cpp_quirk(body, prompt)
                reply = quirk or stub._next(body)
                if reply.release is not None:
                    reply.release.wait(HOLD_LIMIT)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    error = {"error": {"message": reply.content or f"stub error {reply.status}", "type": "stub"}}
                    self._send(reply.status, error, reply.headers)
                    return
                if reply.raw is not None:
                    self._send_raw(reply.raw.encode("utf-8", "surrogatepass"), "text/html", reply.headers)
                    return
                usage: Any = reply.usage
                if usage == "auto":
                    usage = {
                        "prompt_tokens": reply.prompt_tokens if reply.prompt_tokens is not None
                        else len(prompt.split()),
                        "completion_tokens": (reply.completion_tokens if reply.completion_tokens is not None
                                              else len(reply.content.split())),
                    }
                    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                message = reply.message if reply.message is not None else {"role": "assistant",
                                                                            "content": reply.content}
                choices = reply.choices if reply.choices is not None else [
                    {"index": 0, "finish_reason": "stop", "message": message}]
                payload = {"id": f"chatcmpl-stub-{stub.calls}", "object": "chat.completion", "created": 0,
                           "model": body.get("model", "stub"), "choices": choices}
                if usage is not None:
                    payload["usage"] = usage
                if body.get("stream"):
                    self._stream(payload, reply, body)
                else:
                    self._send(200, payload, reply.headers)

            def _send_raw(self, data: bytes, ctype: str, headers: dict[str, str]) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, payload: dict[str, Any], reply: Reply, body: dict[str, Any]) -> None:
                """Server-sent events: the content a word at a time, then usage (if asked), then [DONE]."""
                message = payload["choices"][0].get("message", {}) if payload["choices"] else {}
                content = message.get("content")
                pieces: list[Any] = [content] if not isinstance(content, str) else \
                    [w for w in content.replace("\n", "\n\0").replace(" ", " \0").split("\0") if w]
                extra = {k: v for k, v in message.items() if k not in ("role", "content")}
                events = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": piece, **extra}}]}
                          for piece in pieces] or [{"choices": [{"index": 0, "delta": {"content": "", **extra}}]}]
                events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if payload.get("usage") is not None and (body.get("stream_options") or {}).get("include_usage"):
                    events.append({"choices": [], "usage": payload["usage"]})
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    for n, event in enumerate(events):
                        if reply.drop_after is not None and n >= reply.drop_after:
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)   # mid-stream, no terminating chunk
                            return
                        if n and reply.chunk_delay:
                            time.sleep(reply.chunk_delay)
                        event.update({"id": payload["id"], "object": "chat.completion.chunk",
                                      "model": payload["model"]})
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode("utf-8", "surrogatepass"))
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    with stub._lock:
                        stub.cancelled += 1  # the client hung up: like llama.cpp, stop generating

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), name="stub-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubLLM:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@pytest.fixture
def stub_llm() -> Iterator[StubLLM]:
    """A running :class:`StubLLM` with an empty script; stopped after the test."""
    with StubLLM() as stub:
        yield stub
