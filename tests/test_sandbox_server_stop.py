"""A fork server stopped while another thread still holds one of its workers (the pool's shutdown at exit
racing its refill thread): the worker's kill ends quietly instead of raising from a closed socket."""

from __future__ import annotations

from patchworld.sandbox.procs import ForkServer


def test_a_worker_of_a_server_whose_socket_was_closed_is_killed_without_raising():
    server = ForkServer()
    try:
        worker = server.request()
        server.sock.close()        # what ``stop`` does first, before the server process is gone
        assert server.alive()      # the window: the socket is closed, the process not yet killed
        worker.kill()              # raised ValueError from select() on the closed socket
        assert worker.closed
    finally:
        server.stop()
