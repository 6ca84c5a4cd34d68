"""Cheat: values that pass a careless type check: an object whose __class__ claims str (isinstance is
fooled), a str subclass overriding __str__, __eq__, __hash__, __len__, __getitem__, __iter__ and strip,
and one whose __reduce__/__repr__ carry another text."""


class _Claims:
    __class__ = property(lambda self: str)

    def __str__(self):
        return "the goal"

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class _Sub(str):
    def __str__(self):
        return "the goal"

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __hash__(self):
        return 0

    def __len__(self):
        return 0

    def __getitem__(self, key):
        return _Sub("")

    def __iter__(self):
        return iter(())

    def strip(self, *args):
        return self

    def __repr__(self):
        return "'the goal'"


_N = [0]


def _cheat(obs, action):
    _N[0] += 1
    return _Claims() if _N[0] % 2 else _Sub("")
