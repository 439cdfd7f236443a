"""A real Mosquitto broker for tests, and a paho subscriber that records what it hears.

Plain helpers, no pytest: the publisher's tests and the daemon's tests both use them. The
broker is Debian's /usr/sbin/mosquitto (scripts/setup --test installs it) on a free loopback
port with a generated configuration; `restart()` keeps the port. Under pytest-xdist another
worker may take a port between `free_port()` and mosquitto's bind: the first start then moves
to another free port. `tls_material()` makes a CA
and a server certificate for 127.0.0.1/localhost (and a client certificate) with
`cryptography`.
"""

from __future__ import annotations

import asyncio
import datetime
import getpass
import ipaddress
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")
START_TIMEOUT_S = 10.0
PORT_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class TlsMaterial:
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def tls_material(directory: Path) -> TlsMaterial:
    """A throwaway CA, a server certificate for 127.0.0.1 and localhost, a client certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=2))
    ca_key = _key(directory / "ca.key")
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("mepd test CA"))
        .issuer_name(_name("mepd test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def issue(stem: str, common_name: str, usage: x509.ObjectIdentifier, server: bool) -> Path:
        key = _key(directory / f"{stem}.key")
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid[0])
            .not_valid_after(valid[1])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
        path = directory / f"{stem}.pem"
        path.write_bytes(
            builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
        )
        return path

    server = issue("server", "localhost", ExtendedKeyUsageOID.SERVER_AUTH, server=True)
    client = issue("client", "mepd-test-client", ExtendedKeyUsageOID.CLIENT_AUTH, server=False)
    return TlsMaterial(ca_file, server, directory / "server.key", client, directory / "client.key")


@dataclass
class Mosquitto:
    """One broker process; `users` and `tls` make it demand a password / speak TLS."""

    workdir: Path
    port: int = field(default_factory=free_port)
    users: dict[str, str] = field(default_factory=dict)
    tls: TlsMaterial | None = None
    require_client_cert: bool = False
    process: subprocess.Popen[bytes] | None = None
    _listened: bool = field(default=False, init=False, repr=False)  # the port is ours now

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def _config(self) -> str:
        lines = [
            f"user {getpass.getuser()}",
            "persistence false",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.users:
            passwords = self.workdir / "passwd"
            passwords.unlink(missing_ok=True)
            for index, (user, password) in enumerate(self.users.items()):
                create = ["-c"] if index == 0 else []
                subprocess.run(
                    [str(MOSQUITTO_PASSWD), *create, "-b", str(passwords), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca_file}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                f"require_certificate {'true' if self.require_client_cert else 'false'}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        if not MOSQUITTO.exists():
            raise RuntimeError(f"{MOSQUITTO} is missing: run scripts/setup --test")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            error = self._start_once()
            if error is None:
                self._listened = True
                return
            if self._listened or attempt == PORT_ATTEMPTS or "Address already in use" not in error:
                raise RuntimeError(f"mosquitto exited at start: {error}")
            self.port = free_port()  # taken meanwhile (another xdist worker): not ours yet

    def _start_once(self) -> str | None:
        """Starts the broker and waits until it listens; the reason it exited, if it did."""
        config = self.workdir / "mosquitto.conf"
        config.write_text(self._config())
        logged_before = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                self.stop()
                return f"{error}{self.log()}"
            # Its own log says it has bound the port: a connection alone could reach another
            # worker's broker on the same port while this one is failing to bind.
            if b" running" in self._log_bytes()[logged_before:]:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return None
                except OSError:
                    pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port}: {self.log()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()

    def restart(self) -> None:
        """Stop and start again on the same port; retained messages are gone (no persistence)."""
        self.stop()
        self.start()

    def log(self) -> str:
        return self._log_bytes().decode()

    def _log_bytes(self) -> bytes:
        return self.log_path.read_bytes() if self.log_path.exists() else b""


def mosquitto_available() -> bool:
    return MOSQUITTO.exists() and shutil.which(str(MOSQUITTO_PASSWD)) is not None


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    at: float  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.payload)


class Listener:
    """A paho subscriber on its own thread; `messages` grows as they arrive."""

    def __init__(
        self,
        port: int,
        topics: tuple[str, ...] = ("#",),
        *,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-listener-{id(self)}"
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if ca_file is not None:
            self._client.tls_set(ca_certs=str(ca_file))
        self._client.on_connect = lambda client, *_: client.subscribe([(t, 0) for t in topics])
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._record
        self._port = port

    def _record(self, _client: Any, _userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(
                Message(
                    message.topic, bytes(message.payload), bool(message.retain), time.monotonic()
                )
            )

    def __enter__(self) -> Listener:
        self._client.connect("127.0.0.1", self._port)
        self._client.loop_start()
        if not self._subscribed.wait(5.0):
            raise RuntimeError("the test listener could not subscribe")
        return self

    def __exit__(self, *_: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def on(self, topic: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def matching(self, predicate: Callable[[Message], bool]) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if predicate(m)]

    async def wait_for(
        self, predicate: Callable[[Message], bool], count: int = 1, within_s: float = 10.0
    ) -> list[Message]:
        """Wait (without blocking the loop) until `count` messages satisfy `predicate`."""
        deadline = time.monotonic() + within_s
        while True:
            found = self.matching(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = sorted({m.topic for m in self.matching(lambda _: True)})
                raise AssertionError(
                    f"{count} matching message(s) not seen within {within_s} s; topics seen: {seen}"
                )
            await asyncio.sleep(0.02)

    async def wait_topic(self, topic: str, count: int = 1, within_s: float = 10.0) -> list[Message]:
        return await self.wait_for(lambda m: m.topic == topic, count, within_s)

    def last(self, topic: str) -> Message:
        found = self.on(topic)
        if not found:
            raise AssertionError(f"nothing on {topic}")
        return found[-1]


async def retained(
    port: int, topics: tuple[str, ...], *, quiet_s: float = 0.3, **auth: Any
) -> dict[str, bytes]:
    """The retained messages a fresh subscriber gets for `topics` (a snapshot)."""
    with Listener(port, topics, **auth) as listener:
        await asyncio.sleep(quiet_s)
    return {m.topic: m.payload for m in listener.messages if m.retain}
