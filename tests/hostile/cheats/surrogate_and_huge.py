"""Cheat: texts that strain the parent: lone surrogates, NUL bytes, a prediction far over the cap of every token the
observation holds repeated, right-to-left marks; none may crash scoring or count as exact."""

_N = [0]


def _cheat(obs, action):
    _N[0] += 1
    if _N[0] % 3 == 0:
        return obs + "\ud800\udfff\x00"
    if _N[0] % 3 == 1:
        return (" ".join(set(obs.split())) + " ") * 2_000
    return "\u202e" + obs[::-1] + "\ufeff"
