"""Live text environments (one file each) and trajectory generation.

``make(name)`` builds an env; ``registered()`` lists them; see :mod:`.base` for the protocol.
"""

from patchworld.envs.base import EnvError, EnvSpec, Step, TextEnv, make, register, registered, spec

__all__ = ["EnvError", "EnvSpec", "Step", "TextEnv", "make", "register", "registered", "spec"]
