"""Escape: TCP and UDP to 127.0.0.1 (the test listens on both ports)."""
# ruff: noqa: F821  (TOKEN, REPO, TEST_PID... are set by tests/test_escapes.py, which splices this file)


def _escape():
    out = []
    try:
        import socket
        s = socket.create_connection(("127.0.0.1", TCP_PORT), timeout=1)
        s.sendall(b"ESCAPED")
        out.append("tcp ok")
    except Exception as exc:
        out.append(f"tcp blocked {type(exc).__name__}: {str(exc)[:50]}")
    try:
        import socket
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"ESCAPED", ("127.0.0.1", UDP_PORT))
        out.append("udp ok")
    except Exception as exc:
        out.append(f"udp blocked {type(exc).__name__}: {str(exc)[:50]}")
    return "; ".join(out)
