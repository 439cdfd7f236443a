"""paho-mqtt's network I/O on the asyncio loop: its socket watched with `add_reader`/`add_writer`.

paho's external-loop API tells us when it opens or closes its socket and when it has something
to write; we call `loop_read`/`loop_write` when the socket is ready and `loop_misc` once a
second. So the loop thread is the only one that touches a connected client, and `publish` from
a poller's emit callback is a plain non-blocking call (paho queues the packet and asks for a
writer), with no locks, no thread hops per message, and one thread fewer than `loop_start()`
on a Pi Zero. Only `connect` runs in a worker thread; the socket callbacks paho fires there
are moved onto the loop with `call_soon_threadsafe`.

One client at a time: a callback from a client that is no longer the current one (an attempt
given up on) is ignored, and a socket it opens late is closed.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

MISC_INTERVAL_S = 1.0


class SocketBridge:
    """Drives the current paho client's socket from the asyncio loop."""

    def __init__(self, on_closed: Callable[[], None]) -> None:
        self._on_closed = on_closed  # the current client's socket closed (on the loop)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._client: paho.Client | None = None
        self._fd: int | None = None

    @property
    def client(self) -> paho.Client | None:
        """The client being driven; None between attempts."""
        return self._client

    def attach(self, client: paho.Client) -> None:
        """Drive `client` from now on (call on the loop, before it connects)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        self._client = client

    def detach(self) -> None:
        """Forget the current client; a socket it still holds is closed."""
        client, self._client = self._client, None
        self._forget_fd()
        if client is not None:
            sock = client.socket()
            if sock is not None:
                with suppress(OSError):
                    sock.close()

    @staticmethod
    def shutdown(client: paho.Client) -> None:
        """Make paho see the end of `client`'s connection at its next read."""
        shutdown = getattr(client.socket(), "shutdown", None)
        if shutdown is not None:
            with suppress(OSError):
                shutdown(socket.SHUT_RDWR)

    async def housekeeping(self, client: paho.Client) -> None:
        """Keepalive pings and their timeout: paho's `loop_misc`, once a second, forever."""
        while True:
            await asyncio.sleep(MISC_INTERVAL_S)
            if client is self._client and client.socket() is not None:
                client.loop_misc()

    # --- paho's socket callbacks (any thread) ------------------------------------------------

    def _on_loop(self, function: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            return
        if threading.get_ident() == self._thread:
            function(*args)
        else:
            self._loop.call_soon_threadsafe(function, *args)

    def _socket_open(self, client: paho.Client, _userdata: Any, sock: Any) -> None:
        # paho leaves Nagle on: after a large discovery config it held the next small state
        # publishes for up to ~40 ms (bench/: p99 overhead 36.6 -> 1.6 ms with 8 meters).
        with suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._on_loop(self._add_reader, client, sock, sock.fileno())

    def _socket_close(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        self._on_loop(self._closed_socket, client)

    def _register_write(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        self._on_loop(self._add_writer, client)

    def _unregister_write(self, client: paho.Client, _userdata: Any, _sock: Any) -> None:
        self._on_loop(self._remove_writer, client)

    # --- on the loop ---------------------------------------------------------------------------

    def _add_reader(self, client: paho.Client, sock: Any, fd: int) -> None:
        assert self._loop is not None
        if client is not self._client:
            with suppress(OSError):
                sock.close()  # an attempt given up on (stop() during connect)
            return
        self._fd = fd
        self._loop.add_reader(fd, self._readable, client)

    def _add_writer(self, client: paho.Client) -> None:
        if client is self._client and self._fd is not None and self._loop is not None:
            self._loop.add_writer(self._fd, self._writable, client)

    def _remove_writer(self, client: paho.Client) -> None:
        if client is self._client and self._fd is not None and self._loop is not None:
            self._loop.remove_writer(self._fd)

    def _closed_socket(self, client: paho.Client) -> None:
        if client is self._client:
            self._forget_fd()
            self._on_closed()

    def _forget_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and self._loop is not None:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)

    def _readable(self, client: paho.Client) -> None:
        # TLS may hold whole records in its buffer, where select() cannot see them.
        while client is self._client:
            if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            sock = client.socket()
            pending = getattr(sock, "pending", None)
            if sock is None or pending is None or pending() == 0:
                return

    def _writable(self, client: paho.Client) -> None:
        if client is self._client:
            client.loop_write()
