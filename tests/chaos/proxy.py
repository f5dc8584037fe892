"""A small TCP proxy whose behaviour can be switched while it runs (Prometheus, Slack, PagerDuty).

Modes, applied to each new connection (connections already pumping keep going):

- ``pass``: forward both ways;
- ``delay``: wait ``delay`` seconds before forwarding (a slow upstream);
- ``down``: accept and close at once (the client sees a reset / empty reply);
- ``stall``: accept, read, never answer; closed when the mode changes (a client timeout).
- ``freeze``: like ``stall`` for new connections, and connections already pumping stop
  forwarding too while they stay open (a half-open TCP connection, a wedged network path);
  they flow again when the mode changes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tests.cluster.controlplane import free_port

MODES = ("pass", "delay", "down", "stall", "freeze")


class Proxy:
    def __init__(
        self, upstream_port: int, *, port: int | None = None, upstream_host: str = "127.0.0.1"
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port or free_port()
        self.mode = "pass"
        self.delay = 0.0
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.5)
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, name="proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str, delay: float = 0.0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode!r}")
        self.mode, self.delay = mode, delay
        if mode == "freeze":
            self._flowing.clear()
        else:
            self._flowing.set()
        self._changed.set()
        self._changed = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        self._changed.set()
        self._flowing.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(
                target=self._serve, args=(conn, self.mode, self.delay, self._changed), daemon=True
            ).start()

    def _serve(
        self, conn: socket.socket, mode: str, delay: float, changed: threading.Event
    ) -> None:
        with conn:
            if mode == "down":
                with contextlib.suppress(OSError):
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                return
            if mode in ("stall", "freeze"):
                changed.wait(timeout=300)
                return
            if mode == "delay":
                time.sleep(delay)
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                return
            with upstream:
                upstream.settimeout(None)
                conn.settimeout(None)
                back = threading.Thread(
                    target=_pump, args=(upstream, conn, self._flowing), daemon=True
                )
                back.start()
                _pump(conn, upstream, self._flowing)
                back.join(timeout=60)


def _pump(source: socket.socket, sink: socket.socket, flowing: threading.Event) -> None:
    try:
        while data := source.recv(65536):
            flowing.wait()  # frozen: hold what came, send nothing, keep both ends open
            sink.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
