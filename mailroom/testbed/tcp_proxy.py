"""A loopback TCP proxy that can cut its connections, for fault tests.

Point a client at ``proxy.port`` instead of the server's port; the proxy forwards bytes
both ways until told to cut::

    with CuttingProxy(server.port) as proxy:
        proxy.cut_after(50_000)      # close once 50 kB more have gone server -> client
        proxy.cut_at_command(b" FETCH ", nth=2, then_bytes=1_500)
                                     # ... once the client's 2nd FETCH is 1.5 kB answered
        proxy.cut()                  # close every connection now

A cut closes both sides without a goodbye, in the middle of a response if one is under
way: what a client sees when the network or the server dies.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

from mailroom.testbed.ports import HOST


class CuttingProxy:
    """Forward 127.0.0.1:``port`` to 127.0.0.1:``target_port``; cut on demand."""

    def __init__(self, target_port: int, *, target_host: str = HOST) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._budget: int | None = None  # server -> client bytes left before a cut
        # (marker, occurrences left, budget then): arm the budget when the client sends it.
        self._trigger: tuple[bytes, int, int] | None = None
        self.cuts = 0  # connections cut so far
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._accepter.start()

    def __enter__(self) -> CuttingProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def cut_after(self, server_bytes: int) -> None:
        """Cut every connection once ``server_bytes`` more have gone to clients."""
        with self._lock:
            self._budget = server_bytes

    def cut_at_command(self, marker: bytes, *, nth: int = 1, then_bytes: int = 0) -> None:
        """Cut once the client has sent ``marker`` (e.g. ``b" FETCH "``) ``nth`` times, after
        ``then_bytes`` of the server's answer; 0 cuts before the server sees the command.

        Deterministic where a byte count is not: "the second batch fails" whatever the
        size of the first. A marker split across two reads is not seen; IMAP commands are
        short lines sent in one write, so in practice it is.
        """
        with self._lock:
            self._trigger = (marker, nth, then_bytes)

    def cut(self) -> None:
        """Close every open connection now; new ones are still accepted."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
            self.cuts += len(pairs)
        for pair in pairs:
            _close_pair(pair)

    def close(self) -> None:
        """Stop accepting, cut everything, and wait for the threads."""
        self._closed.set()
        # shutdown() wakes the accept() blocked in the other thread; close() alone may not.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()
        for thread in [self._accepter, *self._threads]:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self._lock:
                self._pairs.append(pair)
            thread = threading.Thread(target=self._pump, args=(pair,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _pump(self, pair: tuple[socket.socket, socket.socket]) -> None:
        client, upstream = pair
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            while True:
                try:
                    events = selector.select(timeout=0.2)
                except (OSError, ValueError):
                    break  # a socket was closed by cut()
                if self._closed.is_set() or not self._is_open(pair):
                    break
                for key, _ in events:
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    target: socket.socket = key.data
                    try:
                        data = source.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        self._drop(pair)
                        return
                    if source is upstream:
                        data = self._spend(data)
                    elif self._triggered(data):
                        self.cut()
                        return
                    try:
                        target.sendall(data)
                    except OSError:
                        self._drop(pair)
                        return
                    if self._spent():
                        self.cut()
                        return
        self._drop(pair)

    def _spend(self, data: bytes) -> bytes:
        """Pass at most the remaining budget of server bytes."""
        with self._lock:
            if self._budget is None:
                return data
            data = data[: self._budget]
            self._budget -= len(data)
            return data

    def _spent(self) -> bool:
        """True once when the budget has run out; later connections pass again."""
        with self._lock:
            if self._budget != 0:
                return False
            self._budget = None
            return True

    def _triggered(self, client_data: bytes) -> bool:
        """Count the marker in client data; True when the command must not pass at all."""
        with self._lock:
            if self._trigger is None:
                return False
            marker, left, then_bytes = self._trigger
            left -= client_data.count(marker)
            if left > 0:
                self._trigger = (marker, left, then_bytes)
                return False
            self._trigger = None
            if then_bytes > 0:
                self._budget = then_bytes
                return False
            return True

    def _is_open(self, pair: tuple[socket.socket, socket.socket]) -> bool:
        with self._lock:
            return pair in self._pairs

    def _drop(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        _close_pair(pair)


def _close_pair(pair: tuple[socket.socket, socket.socket]) -> None:
    for sock in pair:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
