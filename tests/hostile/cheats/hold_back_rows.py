"""Cheat: answer a round with a forged reply that holds back every row, so the next round's true
observations arrive before the real predictions are read (and would be scored one step late)."""
import json
import os
import struct

_SENT = []


def _cheat(obs, action):
    if not _SENT:
        _SENT.append(True)
        body = json.dumps(["rows", [], [], [], [], [], [], [], None]).encode()
        for fd in range(3, 64):
            try:
                os.write(fd, struct.pack("<Q", len(body)) + body)
            except OSError:
                pass
    return None
