"""Cheat: write forged result frames ("exact" markers, perfect rows) on every inherited descriptor."""
import json
import os
import struct


def _frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack("<Q", len(data)) + data


def _cheat(obs, action):
    forged = [_frame(["cols", 0, [None] * 50, [""] * 50, [""] * 50, [""] * 50, [False] * 50]),
              _frame(["rows", [None], [""], [""], [""], [""], [""], [[]], None]),
              _frame(["done", "ok", "", ""])]
    for fd in range(3, 64):
        for frame in forged:
            try:
                os.write(fd, frame)
            except Exception:
                break
    return None
