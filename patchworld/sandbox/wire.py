"""Frames between the parent and a worker: length-prefixed JSON, decoded defensively.

A frame is an 8-byte little-endian length and that many bytes of JSON (never pickle). The
parent treats every frame from a worker as hostile: the announced length is checked against
the caller's cap before anything is buffered, nesting deeper than ``max_depth`` is refused
before ``json.loads`` could recurse, and any failure is a :class:`ProtocolError` (the job's
``protocol_error`` outcome), never an exception escaping into the caller. Stdlib only.
"""

from __future__ import annotations

import json
import os
import re
import struct
from typing import Any

__all__ = ["HEADER", "ProtocolError", "encode", "decode", "check_depth", "send", "recv"]

HEADER = struct.Struct("<Q")
_PAIR = re.compile(rb"\[\]|\{\}")   # an innermost pair of brackets
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


class ProtocolError(Exception):
    """A frame broke the protocol: too large, too deep, not JSON or not the expected shape."""


def encode(obj: Any) -> bytes:
    """One frame: header and JSON body."""
    data = json.dumps(obj).encode("utf-8")
    return HEADER.pack(len(data)) + data


def check_depth(body: bytes, max_depth: int) -> None:
    """Raise :class:`ProtocolError` if JSON ``body`` nests deeper than ``max_depth`` (linear time).

    Escaped backslashes, then escaped quotes, are dropped; what is left between the remaining quotes
    taken in pairs is string content (every other piece of a split on quotes), so nothing scans back
    (a body of escaped quotes after one opening quote made an earlier pattern quadratic: 80 KB took
    21 s of the parent's CPU; a regular expression cutting out strings cost more than ``json.loads``
    itself). Exact for valid JSON; on invalid JSON ``json.loads`` stops at the first backslash outside
    a string, or reads an unterminated string to the end, before any nesting this check did not count.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[::2]).translate(None, _NOT_BRACKET)
    for _ in range(max_depth):
        if not brackets:
            return
        brackets = _PAIR.sub(b"", brackets)   # one level: "{[]}" loses its "[]" only
    if brackets:
        raise ProtocolError(f"frame nests deeper than {max_depth} levels (or its brackets do not match)")


def decode(body: bytes, max_depth: int = 6) -> Any:
    """Parse a frame body; :class:`ProtocolError` on anything but shallow, valid JSON."""
    check_depth(body, max_depth)
    try:
        return json.loads(body)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ProtocolError(f"frame is not valid JSON: {type(exc).__name__}") from None


def send(fd: int, obj: Any) -> None:
    """Write one frame (blocking)."""
    view = memoryview(encode(obj))
    while view:
        view = view[os.write(fd, view) :]


def recv(fd: int) -> Any:
    """Read one frame (blocking, from the trusted side); None on end of file."""
    head = _read_exact(fd, HEADER.size)
    if head is None:
        return None
    body = _read_exact(fd, HEADER.unpack(head)[0])
    return None if body is None else json.loads(body)


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
