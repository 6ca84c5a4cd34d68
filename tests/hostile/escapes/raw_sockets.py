"""Escape: sockets below the socket module: _socket directly, a socketpair, a unix socket in /tmp and an
abstract one, a datagram to the test's port."""
# ruff: noqa: F821  (TCP_PORT, TOKEN are set by tests/test_escapes.py, which splices this file)


def _escape():
    import _socket

    out = []
    for what, call in (("tcp", lambda: _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM).connect(
                            ("127.0.0.1", TCP_PORT))),
                       ("pair", lambda: _socket.socketpair()),
                       ("unix", lambda: _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM).bind(f"/tmp/pw{TOKEN}")),
                       ("abstract", lambda: _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM).bind(f"\0pw{TOKEN}"))):
        try:
            call()
            out.append(f"{what} ok")
        except OSError as exc:
            out.append(f"{what} blocked {exc}")
    return "; ".join(out)
