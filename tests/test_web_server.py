"""The web server's configuration (bench/gunicorn_conf.py, which scripts/run.sh and docs/operations.md use), run
as a real gunicorn: each worker listens on its own socket, so keep-alive connections spread over the workers.

The defect (issue 11, eleventh round): on one shared listening socket, the worker that won `accept` kept every
keep-alive connection it took, and a gthread worker accepts while its threads are busy. Under load all of a
client pool's connections could sit on one worker, served on one core under its GIL while the other core idled
(2 load runs of 5: about two thirds of the throughput). With `reuse_port` each worker binds its own
SO_REUSEPORT socket and the kernel spreads connections by a hash of their addresses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2
pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(connection: socket.socket, path: str) -> bytes:
    """One HTTP/1.1 request on a kept-alive connection; the body (hello_wsgi answers with Content-Length)."""
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(4096)
    return body


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on the port (state 0A in /proc/net/tcp)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


@pytest.fixture
def server() -> Iterator[tuple[int, set[int]]]:
    """gunicorn with the production config serving bench/hello_wsgi.py; (port, the workers' pids)."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.hello_wsgi:application",
            "--config",
            str(ROOT / "bench" / "gunicorn_conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        workers: set[int] = set()
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            workers = _children(process.pid)
            if len(workers) == WORKERS and all(
                _socket_inodes(pid) & _listening_inodes(port) for pid in workers
            ):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
                        _get(probe, "/")
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start its workers within 30 s")
        yield port, workers
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_each_worker_listens_on_its_own_socket(server: tuple[int, set[int]]) -> None:
    port, workers = server
    listening = _listening_inodes(port)
    held = {pid: _socket_inodes(pid) & listening for pid in workers}
    assert all(len(inodes) == 1 for inodes in held.values()), held
    assert len(set().union(*held.values())) == WORKERS, f"the workers share a listening socket: {held}"


def test_keep_alive_connections_spread_over_the_workers(server: tuple[int, set[int]]) -> None:
    """32 connections opened at once, then each asked which worker serves it (twice: it stays there). With one
    socket per worker the chance that all 32 reach one worker is 2 ** -31."""
    port, workers = server
    connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(32)]
    try:
        served = [int(_get(connection, "/pid")) for connection in connections]
        again = [int(_get(connection, "/pid")) for connection in connections]
    finally:
        for connection in connections:
            connection.close()
    assert served == again  # a kept-alive connection stays on its worker
    assert set(served) == workers, {pid: served.count(pid) for pid in workers}
