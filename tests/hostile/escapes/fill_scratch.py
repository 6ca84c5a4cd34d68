"""Escape: fill the disk from the scratch directory (the file-size limit is per file: many files of
64 MB each would fill the host's disk within the CPU budget); here three, 192 MB."""


def _escape():
    chunk = b"x" * (1 << 20)
    written = 0
    try:
        for i in range(3):
            with open(f"fill{i}", "wb") as fh:
                for _ in range(64):
                    fh.write(chunk)
                    written += 1
        return f"fill ok {written} MB in scratch"
    except OSError as exc:
        return f"fill blocked after {written} MB: {exc}"
