"""A hello-world WSGI application for bench/servers.py: what a WSGI server costs on its own, with no Django.

    .venv/bin/gunicorn bench.hello_wsgi:application ...
    .venv/bin/granian --interface wsgi bench.hello_wsgi:application ...

GET / answers 13 bytes; GET /big answers 30,000 bytes (about a portal page), in a list of one chunk; GET /iter
the same 30,000 bytes as an iterable with a close() method, as Django's HttpResponse is (a server treats the
two differently: granian sends a list at once, iterates anything else). GET /pid answers the worker's process id
(which worker a connection reached: tests/test_web_server.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

SMALL = b"Hello, world!"
BIG = b"x" * 30_000


class Body:
    """One chunk, iterated, closed after: the shape of Django's HttpResponse to a WSGI server."""

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk

    def __iter__(self) -> Iterator[bytes]:
        return iter([self.chunk])

    def close(self) -> None:
        pass


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO")
    body = BIG if path in ("/big", "/iter") else SMALL
    if path == "/pid":
        body = str(os.getpid()).encode()
    start_response(
        "200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return Body(body) if path == "/iter" else [body]
