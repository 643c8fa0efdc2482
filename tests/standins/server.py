"""The lifecycle every HTTP stand-in shares (eSMS, Zalo ZNS, VNPay, MoMo, payOS): a ThreadingHTTPServer on a free
local port served from a daemon thread, stopped for "refused" and started again by `up()`. Each stand-in supplies
its request handler (`handler_class`) and the failure modes it can play (`DOWN_MODES`)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LocalServer:
    DOWN_MODES: frozenset[str] = frozenset({"refused", "503", "timeout"})
    DEFAULT_DOWN = "refused"

    port: int
    mode: str
    _server: ThreadingHTTPServer | None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler_class())
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def down(self, mode: str | None = None) -> None:
        mode = mode or self.DEFAULT_DOWN
        assert mode in self.DOWN_MODES, mode
        self.mode = mode
        if mode == "refused":
            self.stop()

    def up(self) -> None:
        if self._server is None:
            self.start()
        self.mode = "up"
