"""Cheat: readouts that are not text but would become the right text if coerced carelessly: an object
whose __str__/__format__/__repr__ answer, bytes, a list holding the text, a dict, a number (the class's
readout is replaced, so the wrapper's isinstance filter does not see them)."""


class _Speaks:
    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text

    __repr__ = __format__ = lambda self, *a: self.text


_N = [0]


def _odd(self, belief, action=""):
    honest = _HONEST[0](self, belief, action)
    _N[0] += 1
    kinds = (_Speaks(honest), honest.encode(), [honest], {"observation": honest}, 1.0)
    return kinds[_N[0] % len(kinds)]


_HONEST = []


def _cheat(obs, action):
    cls = globals()["CheatingModel"]
    if not _HONEST:
        _HONEST.append(cls.__mro__[1].readout_observation)
        cls.readout_observation = _odd
    return None
