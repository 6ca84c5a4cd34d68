"""Cheat: predict through an exception: the class's readout raises an exception carrying the honest
prediction (message, args, a __str__ that answers, a notes list), hoping the error text is compared or
kept as the prediction."""


class _Says(Exception):
    def __str__(self):
        return self.args[0]


def _raising(self, belief, action=""):
    honest = _HONEST[0](self, belief, action)
    exc = _Says(honest)
    exc.add_note(honest)
    raise exc


_HONEST = []


def _cheat(obs, action):
    cls = globals()["CheatingModel"]
    if not _HONEST:
        _HONEST.append(cls.__mro__[1].readout_observation)
        cls.readout_observation = _raising
    return None
