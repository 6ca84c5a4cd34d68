"""Hostile program: loops forever while the module loads."""

while True:
    pass
