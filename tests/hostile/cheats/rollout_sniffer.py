"""Cheat: wrap the worker's frame reader and keep every text any message carries (observations sent to
correct with, residual-memory hits); a text that is not a first observation or one of the program's own
predictions can only be a true observation: in rollout it is used as the next prediction."""
import sys

_TEXTS = {}
_OWN = set()


def _cheat(obs, action):
    worker = sys.modules.get("patchworld.sandbox.worker")
    if worker is not None and not getattr(worker, "_pw_sniff", False):
        real = worker.recv

        def recv(fd):
            msg = real(fd)
            if isinstance(msg, list) and msg and msg[0] == "round":
                for j, slot in enumerate(msg[1]):
                    for text in (msg[2][j], msg[4][j]):
                        if isinstance(text, str) and text and text not in _OWN:
                            _TEXTS.setdefault(slot, []).append(text)
            return msg

        worker.recv = recv
        worker._pw_sniff = True
    rnd = sys._getframe(1)
    while rnd is not None and rnd.f_code.co_name != "round":
        rnd = rnd.f_back
    slot = rnd.f_locals.get("slot") if rnd is not None else None
    seen = _TEXTS.get(slot, [])
    guess = seen[-1] if len(seen) > 1 else None  # the first one is the first observation
    if guess == obs:  # what the belief was corrected with: given to every program (teacher mode), no cheat
        guess = None
    if guess is not None:
        _OWN.add(guess)
    return guess
